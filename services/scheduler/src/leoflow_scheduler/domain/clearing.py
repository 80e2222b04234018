"""Clearing task instances (Airflow's clear_task_instances): the chosen task
instances go back to state none with max_tries extended (try_number + retries)
so they run again; one that is running goes to restarting and its execution is
asked to stop (it runs again when that try ends); a finished run goes back to
queued (when reset_dag_runs) so the run starter resumes it; running runs are
re-evaluated at once. XCom hears TaskInstancesCleared and purges stale values.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
from leoflow_common.errors import InvalidArgument
from leoflow_common.states import RUN_FINISHED, TI_EXECUTING, DagRunState
from leoflow_common.states import TaskInstanceState as TI

from ..repository import audit_log, dag_runs, dags, task_instances
from ..scheduling.evaluator import evaluate_run
from ..state_machine import propose_ti_state, run_rules, task_rules
from . import events
from .context import SchedulerContext
from .registry import dag_not_found
from .run_transitions import transition_run
from .runs import run_not_found
from .specs import LoadedVersion
from .uow import UnitOfWork

_FAILED = frozenset({TI.FAILED, TI.UPSTREAM_FAILED})
# What a cleared task instance forgets of its last try (the history keeps it).
_RESET = {
    "start_date": None, "end_date": None, "queued_at": None, "next_retry_at": None, "hostname": "", "pid": None,
    "exit_code": None, "error": "", "failure_kind": "", "dispatch_attempt": 0, "execution_name": "", "rendered_fields": None,
}  # fmt: skip


async def related_runs(
    conn: asyncpg.Connection, tenant_id: str, dag_id: str, run_pk: int, past: bool, future: bool
) -> set[int]:
    """The run itself plus, on request, the DAG's runs with an earlier (past) or
    later (future) logical date."""
    run_pks = {run_pk}
    run = await dag_runs.get_run_by_pk(conn=conn, run_pk=run_pk)
    if run["logical_date"] is not None and (past or future):
        after = None if past else run["logical_date"]
        before = None if future else run["logical_date"]
        rows = await dag_runs.runs_between(
            conn=conn, tenant_id=tenant_id, dag_id=dag_id, after=after, before=before
        )
        run_pks |= {row["id"] for row in rows}
    return run_pks


def _selected(row, task_ids: Collection[str] | None, only_failed: bool, only_running: bool) -> bool:
    state = TI.from_db(row["state"])
    if task_ids is not None and row["task_id"] not in task_ids:
        return False
    if only_failed and state not in _FAILED:
        return False
    if only_running and state != TI.RUNNING:
        return False
    return True


async def clear_in_run(
    uow: UnitOfWork,
    version: LoadedVersion,
    run_row,
    task_ids: Collection[str] | None,
    *,
    only_failed: bool = False,
    only_running: bool = False,
    reset_run: bool = True,
    note: str | None = None,
) -> list:
    """Clear the selected task instances of one locked run; returns the rows cleared."""
    cleared = []
    for row in await task_instances.for_run(conn=uow.conn, run_pk=run_row["id"]):
        if not _selected(row, task_ids, only_failed, only_running):
            continue
        state = TI.from_db(row["state"])
        task = version.graph.tasks.get(row["task_id"])
        max_tries = (
            row["try_number"] + task.retries
            if task is not None
            else max(row["max_tries"], row["try_number"])
        )
        extra = {"note": note} if note is not None else {}
        if state == TI.RUNNING:
            moved = await propose_ti_state(
                uow.conn,
                row["id"],
                task_rules.RestartRunningTask,
                state,
                max_tries=max_tries,
                **extra,
            )
        else:
            moved = await propose_ti_state(
                uow.conn,
                row["id"],
                task_rules.ClearTaskInstance,
                state,
                max_tries=max_tries,
                **_RESET,
                **extra,
            )
        if not moved:
            continue
        if state in TI_EXECUTING:
            await events.cancel_requested(uow, row, "task instance cleared")
        cleared.append(row)
    if cleared:
        await events.task_instances_cleared(uow, run_row["tenant_id"], cleared)
        if reset_run and DagRunState(run_row["state"]) in RUN_FINISHED:
            await transition_run(
                uow,
                run_row,
                run_rules.RequeueRun,
                clear_number=run_row["clear_number"] + 1,
                last_scheduling_decision=None,
            )
    return cleared


@dataclass
class ClearRequest:
    """What to clear (ClearTaskInstancesRequest, parsed)."""

    dag_id: str
    run_id: str = ""
    task_ids: list[str] = field(default_factory=list)
    dry_run: bool = False
    only_failed: bool = False
    only_running: bool = False
    reset_dag_runs: bool = False
    include_upstream: bool = False
    include_downstream: bool = False
    include_future: bool = False
    include_past: bool = False
    start_date: datetime | None = None
    end_date: datetime | None = None
    run_on_latest_version: bool = False
    note: str | None = None


async def _target_runs(conn, tenant_id: str, req: ClearRequest) -> list[int]:
    if req.run_id:
        run = await dag_runs.get_run(
            conn=conn, tenant_id=tenant_id, dag_id=req.dag_id, run_id=req.run_id
        )
        if run is None:
            raise run_not_found(req.dag_id, req.run_id)
        return sorted(
            await related_runs(
                conn, tenant_id, req.dag_id, run["id"], req.include_past, req.include_future
            )
        )
    return await dag_runs.ids_in_date_range(
        conn=conn, tenant_id=tenant_id, dag_id=req.dag_id, start=req.start_date, end=req.end_date
    )


def _task_selection(version: LoadedVersion, req: ClearRequest) -> set[str] | None:
    if not req.task_ids:
        return None
    selected = {t for t in req.task_ids if t in version.graph.tasks}
    for task_id in list(selected):
        if req.include_upstream:
            selected |= version.graph.ancestors(task_id)
        if req.include_downstream:
            selected |= version.graph.descendants(task_id)
    return selected


async def clear_task_instances(
    ctx: SchedulerContext, tenant_id: str, req: ClearRequest, actor: str | None
) -> list[asyncpg.Record]:
    """Clear matching task instances; returns them (those that would be, dry_run)."""
    if req.run_on_latest_version:
        raise InvalidArgument(
            "run_on_latest_version is not supported yet", field="run_on_latest_version"
        )
    async with ctx.transaction() as uow:
        conn = uow.conn
        if await dags.get_dag(conn=conn, tenant_id=tenant_id, dag_id=req.dag_id) is None:
            raise dag_not_found(req.dag_id)
        cleared_ids = []
        for run_pk in await _target_runs(conn, tenant_id, req):
            run_row = await dag_runs.lock_run(conn=conn, run_pk=run_pk)
            version = await ctx.specs.get(conn, run_row["dag_version_id"])
            task_ids = _task_selection(version, req)
            if req.dry_run:
                rows = await task_instances.for_run(conn=conn, run_pk=run_pk)
                cleared_ids += [
                    r["id"]
                    for r in rows
                    if _selected(r, task_ids, req.only_failed, req.only_running)
                ]
                continue
            cleared = await clear_in_run(
                uow, version, run_row, task_ids, only_failed=req.only_failed, only_running=req.only_running,
                reset_run=req.reset_dag_runs, note=req.note,
            )  # fmt: skip
            cleared_ids += [r["id"] for r in cleared]
            await evaluate_run(ctx, uow, await dag_runs.lock_run(conn=conn, run_pk=run_pk))
        if not req.dry_run:
            await audit_log.write_event(
                conn=conn, tenant_id=tenant_id, event=_clear_event(req), owner=actor, dag_id=req.dag_id,
                run_id=req.run_id or None, extra={"task_ids": req.task_ids, "cleared": len(cleared_ids), "only_failed": req.only_failed},
            )  # fmt: skip
        return await task_instances.detailed_by_ids(conn=conn, ti_ids=cleared_ids)


def _clear_event(req) -> str:
    """Airflow's event name: clearing a whole run is its clear_dag_run route;
    anything else is post_clear_task_instances."""
    whole_run = bool(req.run_id) and not req.task_ids and req.reset_dag_runs
    return "clear_dag_run" if whole_run else "post_clear_task_instances"
