"""Task instances as users see and change them: reads, tries, and marking a
state (Airflow's patch_task_instance / DAG.set_task_instance_state): the chosen
task instances (optionally with their upstream/downstream relatives, and the same
tasks in past/future runs) are marked; then the failed and upstream_failed
tasks downstream of the marked one are cleared so they can run again, and each
touched run is re-evaluated."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from leoflow_common.errors import InvalidArgument, NotFound
from leoflow_common.states import TaskInstanceState as TI

from ..repository import audit_log, dag_runs, task_instances, ti_history
from ..scheduling.evaluator import evaluate_run
from . import clearing
from .context import SchedulerContext
from .following_runs import evaluate_following_runs
from .runs import mark_task_instance

MARKABLE_STATES = frozenset({TI.SUCCESS, TI.FAILED, TI.SKIPPED})


def ti_not_found(dag_id: str, run_id: str, task_id: str, map_index: int) -> NotFound:
    """Airflow's 404 for a task instance."""
    return NotFound(
        f"The Task Instance with dag_id: `{dag_id}`, run_id: `{run_id}`, task_id: `{task_id}` and map_index: `{map_index}` was not found"
    )


async def get_task_instance(
    ctx: SchedulerContext, tenant_id: str, dag_id: str, run_id: str, task_id: str, map_index: int
) -> asyncpg.Record:
    """A task instance with its run dates and version; NotFound otherwise."""
    async with ctx.pool.acquire() as conn:
        row = await task_instances.get_detailed(
            conn=conn,
            tenant_id=tenant_id,
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=map_index,
        )
    if row is None:
        raise ti_not_found(dag_id, run_id, task_id, map_index)
    return row


async def list_tries(
    ctx: SchedulerContext, tenant_id: str, dag_id: str, run_id: str, task_id: str, map_index: int
) -> list:
    """Every try, oldest first: the recorded earlier tries, then the current one."""
    current = await get_task_instance(ctx, tenant_id, dag_id, run_id, task_id, map_index)
    async with ctx.pool.acquire() as conn:
        history = await ti_history.tries(conn=conn, ti_id=current["id"])
    return [row for row in history if row["try_number"] != current["try_number"]] + [current]


@dataclass
class MarkRequest:
    """What to mark (UpdateTaskInstanceStateRequest, parsed)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    new_state: TI
    note: str | None = None
    set_note: bool = False
    dry_run: bool = False
    include_upstream: bool = False
    include_downstream: bool = False
    include_future: bool = False
    include_past: bool = False


async def update_state(
    ctx: SchedulerContext, tenant_id: str, req: MarkRequest, actor: str | None
) -> list[asyncpg.Record]:
    """Mark task instances; returns those changed (or that would change, dry_run)."""
    if req.new_state not in MARKABLE_STATES:
        raise InvalidArgument(
            f"new_state must be success, failed or skipped, not {req.new_state}", field="new_state"
        )
    async with ctx.transaction() as uow:
        conn = uow.conn
        ti = await task_instances.get_detailed(
            conn=conn,
            tenant_id=tenant_id,
            dag_id=req.dag_id,
            run_id=req.run_id,
            task_id=req.task_id,
            map_index=req.map_index,
        )
        if ti is None:
            raise ti_not_found(req.dag_id, req.run_id, req.task_id, req.map_index)
        version = await ctx.specs.get(conn, ti["dag_version_id"])
        task_ids = {req.task_id}
        if req.include_upstream:
            task_ids |= version.graph.ancestors(req.task_id)
        if req.include_downstream:
            task_ids |= version.graph.descendants(req.task_id)
        run_pks = await clearing.related_runs(
            conn, tenant_id, req.dag_id, ti["dag_run_id"], req.include_past, req.include_future
        )
        locked = {pk: await dag_runs.lock_run(conn=conn, run_pk=pk) for pk in sorted(run_pks)}
        targets = []
        for pk in sorted(locked):
            run_version = await ctx.specs.get(conn, locked[pk]["dag_version_id"])
            for row in await task_instances.for_run(conn=conn, run_pk=pk):
                if (
                    row["task_id"] in task_ids
                    and row["task_id"] in run_version.graph.tasks
                    and TI.from_db(row["state"]) != req.new_state
                ):
                    targets.append(row)
        if req.dry_run:
            return await task_instances.detailed_by_ids(
                conn=conn, ti_ids=[row["id"] for row in targets]
            )
        reason = f"marked {req.new_state.value} by a user"
        changed = [
            row["id"]
            for row in targets
            if await mark_task_instance(uow, row, req.new_state, reason)
        ]
        if req.set_note:
            await task_instances.set_note(conn=conn, ti_id=ti["id"], note=req.note)
        # Airflow resumes the marked task's failed downstream by clearing it.
        marked_task_ids = {row["task_id"] for row in targets}
        for pk in sorted(locked):
            run_version = await ctx.specs.get(conn, locked[pk]["dag_version_id"])
            downstream = (
                run_version.graph.descendants(req.task_id) - marked_task_ids
                if req.task_id in run_version.graph.tasks
                else set()
            )
            await clearing.clear_in_run(uow, run_version, locked[pk], downstream, only_failed=True)
            await evaluate_run(ctx, uow, await dag_runs.lock_run(conn=conn, run_pk=pk))
        await audit_log.write_event(
            conn=conn, tenant_id=tenant_id, event="patch_task_instance", owner=actor, dag_id=req.dag_id, run_id=req.run_id,
            task_id=req.task_id, map_index=req.map_index, extra={"new_state": req.new_state.value, "changed": len(changed)},
        )  # fmt: skip
        result = await task_instances.detailed_by_ids(conn=conn, ti_ids=changed)
        marked_runs = sorted({row["run_id"] for row in targets if row["id"] in set(changed)})
    # A task marked success/skipped may let the following run's depends_on_past task run.
    for run_id in marked_runs:
        await evaluate_following_runs(ctx, tenant_id, req.dag_id, run_id)
    return result


async def list_task_instances(
    ctx: SchedulerContext, tenant_id: str, query: task_instances.TaskInstanceQuery
) -> tuple[list[asyncpg.Record], int]:
    """A page of task instances; InvalidArgument("order_by") for an unknown column."""
    async with ctx.pool.acquire() as conn:
        try:
            return await task_instances.list_task_instances(
                conn=conn, tenant_id=tenant_id, query=query
            )
        except KeyError as exc:
            raise InvalidArgument(
                f"Ordering with '{exc.args[0]}' is disallowed or the attribute does not exist on the model",
                field="order_by",
            ) from exc
