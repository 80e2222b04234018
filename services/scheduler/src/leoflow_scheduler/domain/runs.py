"""DagRuns: trigger, mark, delete.

Triggering creates a queued run pinned to the DAG's latest version and one task
instance (state none) per task; the run starter makes it running when the DAG is
unpaused and under max_active_runs. Marking follows Airflow's mark_tasks:
success marks every task instance success; failed fails the running ones and
skips the other unfinished ones; queued only re-queues the run. Executions that
may still run get a CancelRequested.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
from leoflow_common.errors import AlreadyExists, InvalidArgument, NotFound
from leoflow_common.states import TI_EXECUTING, TI_FINISHED, DagRunState, DagRunType
from leoflow_common.states import TaskInstanceState as TI

from ..metrics import DAG_RUNS_TRIGGERED
from ..repository import audit_log, dag_runs, dags, task_instances
from ..state_machine import propose_ti_state, run_rules, task_rules
from ..timetables import timetable_for
from . import events
from .context import SchedulerContext
from .following_runs import evaluate_following_runs
from .params import resolve_params
from .registry import dag_not_found
from .run_factory import NewRun, create_run
from .run_transitions import transition_run
from .uow import WAKE_RUNS, UnitOfWork, utcnow

# Airflow's [scheduler] allowed_run_id_pattern default, and its ban on "..".
RUN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.~:+-]+$")
RUN_ID_MAX = 250
PATCHABLE_RUN_STATES = frozenset({DagRunState.QUEUED, DagRunState.SUCCESS, DagRunState.FAILED})
# Airflow's set_dag_run_state_to_failed fails these and skips the other unfinished ones.
_RUNNING_STATES = frozenset({TI.RUNNING, TI.DEFERRED, TI.UP_FOR_RESCHEDULE})


def run_not_found(dag_id: str, run_id: str) -> NotFound:
    """Airflow's 404 for a DagRun."""
    return NotFound(f"The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` was not found")


def manual_run_id(run_after: datetime) -> str:
    """Airflow's run id for a manual run: "manual__" + run_after in ISO 8601."""
    return f"{DagRunType.MANUAL.value}__{run_after.isoformat()}"


def check_run_id(run_id: str) -> None:
    """InvalidArgument unless `run_id` is one Airflow would accept."""
    if len(run_id) > RUN_ID_MAX:
        raise InvalidArgument(f"run_id is longer than {RUN_ID_MAX} characters", field="run_id")
    if ".." in run_id:
        raise InvalidArgument(
            f"The run_id '{run_id}' must not contain '..' to prevent path traversal", field="run_id"
        )
    if not RUN_ID_PATTERN.match(run_id):
        raise InvalidArgument(
            f"The run_id provided '{run_id}' does not match regex pattern '{RUN_ID_PATTERN.pattern}'",
            field="run_id",
        )


@dataclass
class TriggerRequest:
    """What to trigger (TriggerDagRunRequest, parsed)."""

    dag_id: str
    run_id: str = ""
    logical_date: datetime | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    run_after: datetime | None = None
    conf: dict[str, Any] = field(default_factory=dict)
    note: str | None = None
    triggered_by: str = "rest_api"


async def trigger_dag_run(
    ctx: SchedulerContext, tenant_id: str, req: TriggerRequest, actor: str | None
) -> asyncpg.Record:
    """Create a queued run of the DAG's latest version (Airflow's trigger_dag_run)."""
    if (req.data_interval_start is None) != (req.data_interval_end is None):
        raise InvalidArgument(
            "data_interval_start and data_interval_end must be given together",
            field="data_interval_start",
        )
    if (
        req.data_interval_start
        and req.data_interval_end
        and req.data_interval_end < req.data_interval_start
    ):
        raise InvalidArgument(
            "data_interval_end is before data_interval_start", field="data_interval_end"
        )
    now = utcnow()
    run_after = req.run_after or now
    run_id = req.run_id or manual_run_id(run_after)
    check_run_id(run_id)
    async with ctx.transaction() as uow:
        conn = uow.conn
        dag = await dags.get_dag(conn=conn, tenant_id=tenant_id, dag_id=req.dag_id)
        if dag is None or dag["is_stale"] or dag["latest_version_id"] is None:
            raise dag_not_found(req.dag_id)
        version = await ctx.specs.get(conn, dag["latest_version_id"])
        resolve_params(version.spec, req.conf)
        interval_start, interval_end = req.data_interval_start, req.data_interval_end
        if req.logical_date is not None and interval_start is None:
            # Airflow 3: the timetable infers a manual run's interval from its logical date.
            interval_start, interval_end = timetable_for(version.spec).infer_manual_data_interval(
                run_after=req.logical_date
            )
        new = NewRun(
            run_id=run_id, run_type=DagRunType.MANUAL.value, run_after=run_after, logical_date=req.logical_date,
            data_interval_start=interval_start, data_interval_end=interval_end, conf=req.conf, note=req.note,
            triggered_by=req.triggered_by or "rest_api", triggering_user_name=actor,
        )  # fmt: skip
        run_pk = await create_run(uow, tenant_id, req.dag_id, version, new)
        if run_pk is None:
            if await dag_runs.exists(
                conn=conn, tenant_id=tenant_id, dag_id=req.dag_id, run_id=run_id
            ):
                raise AlreadyExists(
                    f"DAG Run with run_id: `{run_id}` already exists for DAG `{req.dag_id}`"
                )
            when = req.logical_date.isoformat() if req.logical_date else "(none)"
            raise AlreadyExists(
                f"A DAG Run with logical date {when} already exists for DAG `{req.dag_id}`"
            )
        await audit_log.write_event(
            conn=conn, tenant_id=tenant_id, event="trigger_dag_run", owner=actor, dag_id=req.dag_id, run_id=run_id,
            logical_date=req.logical_date, extra={"conf": req.conf, "triggered_by": req.triggered_by},
        )  # fmt: skip
        row = await dag_runs.get_run_by_pk(conn=conn, run_pk=run_pk)
    DAG_RUNS_TRIGGERED.inc()
    return row


async def get_dag_run(
    ctx: SchedulerContext, tenant_id: str, dag_id: str, run_id: str
) -> asyncpg.Record:
    """A run with its version; NotFound otherwise."""
    async with ctx.pool.acquire() as conn:
        row = await dag_runs.get_run(conn=conn, tenant_id=tenant_id, dag_id=dag_id, run_id=run_id)
    if row is None:
        raise run_not_found(dag_id, run_id)
    return row


async def _lock_by_key(uow: UnitOfWork, tenant_id: str, dag_id: str, run_id: str):
    row = await dag_runs.get_run(conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id, run_id=run_id)
    if row is None:
        raise run_not_found(dag_id, run_id)
    return await dag_runs.lock_run(conn=uow.conn, run_pk=row["id"])


async def mark_task_instance(uow: UnitOfWork, ti_row, target: TI, reason: str) -> bool:
    """A user's mark of one task instance (no-op if it is already `target`);
    executions that may still run are asked to stop."""
    current = TI.from_db(ti_row["state"])
    if current == target:
        return False
    now = utcnow()
    changes: dict[str, Any] = {"end_date": now, "start_date": ti_row["start_date"] or now}
    if not await propose_ti_state(
        uow.conn, ti_row["id"], task_rules.MARK_RULES[target], current, **changes
    ):
        return False
    if current in TI_EXECUTING:
        await events.cancel_requested(uow, ti_row, reason)
    return True


async def update_dag_run(
    ctx: SchedulerContext,
    tenant_id: str,
    dag_id: str,
    run_id: str,
    state: DagRunState | None,
    note: str | None,
    set_note: bool,
    actor: str | None,
) -> asyncpg.Record:
    """Mark a run queued/success/failed and/or set its note (Airflow's patch_dag_run)."""
    if state is not None and state not in PATCHABLE_RUN_STATES:
        raise InvalidArgument(
            f"a DagRun can be set to queued, success or failed, not {state}", field="state"
        )
    async with ctx.transaction() as uow:
        run_row = await _lock_by_key(uow, tenant_id, dag_id, run_id)
        if state is not None:
            await _mark_run(uow, run_row, state)
        if set_note:
            await dag_runs.set_note(conn=uow.conn, run_pk=run_row["id"], note=note)
        await audit_log.write_event(
            conn=uow.conn, tenant_id=tenant_id, event="patch_dag_run", owner=actor, dag_id=dag_id, run_id=run_id,
            logical_date=run_row["logical_date"], extra={"state": state.value if state else None, "note": note if set_note else None},
        )  # fmt: skip
        result = await dag_runs.get_run_by_pk(conn=uow.conn, run_pk=run_row["id"])
    if state is not None and state != DagRunState.QUEUED:
        # Its task instances marked: the next run's depends_on_past tasks may run now.
        await evaluate_following_runs(ctx, tenant_id, dag_id, run_id)
    return result


async def _mark_run(uow: UnitOfWork, run_row, state: DagRunState) -> None:
    reason = f"DagRun marked {state.value}"
    tis = await task_instances.for_run(conn=uow.conn, run_pk=run_row["id"])
    if state == DagRunState.SUCCESS:
        for ti in tis:
            await mark_task_instance(uow, ti, TI.SUCCESS, reason)
    elif state == DagRunState.FAILED:
        for ti in tis:
            current = TI.from_db(ti["state"])
            if current in _RUNNING_STATES:
                await mark_task_instance(uow, ti, TI.FAILED, reason)
            elif current not in TI_FINISHED:
                await mark_task_instance(uow, ti, TI.SKIPPED, reason)
    current_state = DagRunState(run_row["state"])
    if current_state != state:
        rule = {
            DagRunState.SUCCESS: run_rules.MarkRunSuccess,
            DagRunState.FAILED: run_rules.MarkRunFailed,
            DagRunState.QUEUED: run_rules.RequeueRun,
        }[state]
        await transition_run(uow, run_row, rule)


async def delete_dag_run(
    ctx: SchedulerContext, tenant_id: str, dag_id: str, run_id: str, actor: str | None
) -> None:
    """Delete a run with its task instances; executions still running are asked to stop."""
    async with ctx.transaction() as uow:
        run_row = await _lock_by_key(uow, tenant_id, dag_id, run_id)
        for ti in await task_instances.for_run(conn=uow.conn, run_pk=run_row["id"]):
            if TI.from_db(ti["state"]) in TI_EXECUTING:
                await events.cancel_requested(uow, ti, "DagRun deleted")
        await dag_runs.delete_run(conn=uow.conn, run_pk=run_row["id"])
        await dags.sync_last_run(conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id)
        await audit_log.write_event(
            conn=uow.conn, tenant_id=tenant_id, event="delete_dag_run", owner=actor, dag_id=dag_id, run_id=run_id,
            logical_date=run_row["logical_date"],
        )  # fmt: skip
        uow.wake(WAKE_RUNS)


async def list_dag_runs(
    ctx: SchedulerContext, tenant_id: str, query: dag_runs.RunQuery
) -> tuple[list[asyncpg.Record], int]:
    """A page of runs; InvalidArgument("order_by") for a column one cannot sort on."""
    async with ctx.pool.acquire() as conn:
        try:
            return await dag_runs.list_runs(conn=conn, tenant_id=tenant_id, query=query)
        except KeyError as exc:
            raise InvalidArgument(
                f"Ordering with '{exc.args[0]}' is disallowed or the attribute does not exist on the model",
                field="order_by",
            ) from exc
