"""The admission loop's pass: runs with task instances held in `scheduled`,
each re-evaluated in its own transaction under its run lock (skipped when
another transaction holds it: that one evaluates the run itself)."""

from __future__ import annotations

from leoflow_common.states import DagRunState

from ..repository import dag_runs
from ..scheduling.evaluator import evaluate_run
from .context import SchedulerContext
from .tracing import continue_run_trace

BATCH = 200

# Running runs of unpaused DAGs holding scheduled task instances, the run with
# the highest-priority held task instance first, then the oldest.
_RUNS_WITH_HELD = """
SELECT r.id, r.trace_context FROM dag_runs r
JOIN dags d ON d.tenant_id = r.tenant_id AND d.dag_id = r.dag_id AND NOT d.is_paused
JOIN LATERAL (
    SELECT max(ti.priority_weight) AS priority FROM task_instances ti
    WHERE ti.dag_run_id = r.id AND ti.state = 'scheduled'
) held ON held.priority IS NOT NULL
WHERE r.state = 'running'
ORDER BY held.priority DESC, r.logical_date NULLS LAST, r.id
LIMIT $1
"""


async def queue_held(ctx: SchedulerContext) -> int:
    """Re-evaluate runs with held task instances; returns how many runs were evaluated."""
    async with ctx.pool.acquire() as conn:
        runs = await conn.fetch(_RUNS_WITH_HELD, BATCH)
    evaluated = 0
    for run in runs:
        with continue_run_trace(run["trace_context"]):
            async with ctx.transaction() as uow:
                run_row = await dag_runs.lock_run(conn=uow.conn, run_pk=run["id"], skip_locked=True)
                if run_row is None or run_row["state"] != DagRunState.RUNNING:
                    continue
                await evaluate_run(ctx, uow, run_row)
                evaluated += 1
    return evaluated
