"""Starting the next try of task instances whose retry delay has passed.

Only task instances of running runs of unpaused DAGs are retried (Airflow's
scheduler does not look at paused DAGs); the others wait until their DAG is
unpaused or a user changes them."""

from __future__ import annotations

import logging
from datetime import datetime

from leoflow_common.states import DagRunState
from leoflow_common.states import TaskInstanceState as TI

from ..repository import dag_runs, task_instances
from ..state_machine import task_rules
from . import dispatch
from .context import SchedulerContext
from .tracing import continue_run_trace

log = logging.getLogger(__name__)


async def queue_due_retries(ctx: SchedulerContext, *, batch: int = 100) -> int:
    """Queue the next try of every due task instance; returns how many."""
    async with ctx.pool.acquire() as conn:
        due = await task_instances.due_retries(conn=conn, limit=batch)
    queued = 0
    for row in due:
        with continue_run_trace(row["trace_context"]):
            queued += await _queue_retry(ctx, row)
    return queued


async def _queue_retry(ctx: SchedulerContext, due_row) -> int:
    """Queue the next try of one task instance if it is still due; 1 if queued."""
    async with ctx.transaction() as uow:
        run_row = await dag_runs.lock_run(conn=uow.conn, run_pk=due_row["dag_run_id"])
        ti_row = await task_instances.get_by_id(conn=uow.conn, ti_id=due_row["id"])
        if run_row is None or ti_row is None or run_row["state"] != DagRunState.RUNNING:
            return 0
        if TI.from_db(ti_row["state"]) != TI.UP_FOR_RETRY:
            return 0
        version = await ctx.specs.get(uow.conn, ti_row["dag_version_id"])
        queued = await dispatch.queue_try(
            uow,
            rule=task_rules.QueueRetryTask,
            run_row=run_row,
            ti_row=ti_row,
            version=version,
            new_try=True,
        )
    return int(queued)


async def next_retry_due(ctx: SchedulerContext) -> datetime | None:
    """When the next retry becomes due (None: nothing is waiting)."""
    async with ctx.pool.acquire() as conn:
        return await task_instances.next_retry_due(conn=conn)
