"""Waking the run that depends on this one's past.

A task with depends_on_past (or wait_for_downstream) waits in state none for the
same task (and its downstream) in the DAG's previous run. When a task instance of
run N changes, the run that may be waiting on N is evaluated again: the DAG's
next run by logical date, and, for catchup DAGs (where only runs that are not
manual count as previous), its next run that is not manual — when it is running
and its DAG version has a task depending on past.

It runs in its own transaction after the change committed, so the lock of the
following run is never taken while run N's is held (no lock-order cycle with
passes that lock runs by id), and the pass reads N's committed states.
"""

from __future__ import annotations

import logging

from leoflow_common.states import DagRunState

from ..repository import dag_runs
from ..scheduling.evaluator import evaluate_run
from .context import SchedulerContext

log = logging.getLogger(__name__)


def depends_on_past(spec) -> bool:
    """Whether some task of the spec depends on past (wait_for_downstream implies it)."""
    return any(t.depends_on_past or t.wait_for_downstream for t in spec.tasks)


async def following_runs(conn, tenant_id: str, dag_id: str, logical_date) -> list:
    """The runs whose previous run may be the run at `logical_date` (id order)."""
    return await conn.fetch(
        """
        SELECT id, state, dag_version_id FROM dag_runs WHERE id IN (
          (SELECT id FROM dag_runs WHERE tenant_id = $1 AND dag_id = $2 AND logical_date > $3
            ORDER BY logical_date LIMIT 1)
          UNION
          (SELECT id FROM dag_runs WHERE tenant_id = $1 AND dag_id = $2 AND logical_date > $3
            AND run_type <> 'manual' ORDER BY logical_date LIMIT 1)
        ) ORDER BY id
        """,
        tenant_id,
        dag_id,
        logical_date,
    )


async def evaluate_following_runs(ctx: SchedulerContext, tenant_id: str, dag_id: str, run_id: str) -> int:
    """Evaluate the running runs that may wait on run `run_id`'s task instances
    (only those whose DAG version has a task depending on past); how many."""
    async with ctx.pool.acquire() as conn:
        run_row = await dag_runs.get_run(conn=conn, tenant_id=tenant_id, dag_id=dag_id, run_id=run_id)
        if run_row is None or run_row["logical_date"] is None:
            return 0  # a run without a logical date is nobody's previous run
        pks = []
        for row in await following_runs(conn, tenant_id, dag_id, run_row["logical_date"]):
            if row["state"] != DagRunState.RUNNING or row["dag_version_id"] is None:
                continue
            if depends_on_past((await ctx.specs.get(conn, row["dag_version_id"])).spec):
                pks.append(row["id"])
    evaluated = 0
    for pk in pks:
        async with ctx.transaction() as uow:
            locked = await dag_runs.lock_run(conn=uow.conn, run_pk=pk)
            if locked is not None and locked["state"] == DagRunState.RUNNING:
                await evaluate_run(ctx, uow, locked)
                evaluated += 1
    return evaluated
