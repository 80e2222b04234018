"""Starting queued runs: queued -> running for due runs of unpaused, live DAGs,
never beyond a limit group's max_active_runs running runs (Airflow counts
running runs only; a backfill's runs are a group limited by the backfill's
max_active_runs, the DAG's other runs by the DAG's). A started run is evaluated
in the same transaction, so its first tasks are queued with their dispatch
requests at once."""

from __future__ import annotations

import logging

from leoflow_common.states import DagRunState

from ..repository import dag_runs
from ..scheduling.evaluator import evaluate_run
from ..state_machine import run_rules
from .context import SchedulerContext
from .run_transitions import transition_run
from .tracing import continue_run_trace

log = logging.getLogger(__name__)


async def start_queued_runs(ctx: SchedulerContext, *, batch: int = 100) -> int:
    """Start as many queued runs as the limits allow; returns how many started."""
    async with ctx.pool.acquire() as conn:
        candidates = await dag_runs.runs_to_start(conn=conn, limit=batch)
    running: dict[tuple[str, str, int | None], int] = {}
    started = 0
    for candidate in candidates:
        dag = (candidate["tenant_id"], candidate["dag_id"], candidate["backfill_id"])
        running.setdefault(dag, candidate["running"])
        if running[dag] >= candidate["max_active_runs"]:
            continue
        with continue_run_trace(candidate["trace_context"]):
            outcome = await _start(ctx, candidate)
        if outcome == "full":
            running[dag] = candidate["max_active_runs"]
        elif outcome == "started":
            running[dag] += 1
            started += 1
    return started


async def _start(ctx: SchedulerContext, candidate) -> str:
    """Start one queued run: "started", "full" (no slot left) or "skipped"."""
    async with ctx.transaction() as uow:
        run_row = await dag_runs.lock_run(conn=uow.conn, run_pk=candidate["id"], skip_locked=True)
        if run_row is None or run_row["state"] != DagRunState.QUEUED:
            return "skipped"
        # Re-count under the lock: an earlier pass may have started runs too.
        running = await dag_runs.count_running(
            conn=uow.conn, tenant_id=run_row["tenant_id"], dag_id=run_row["dag_id"],
            backfill_id=run_row["backfill_id"],
        )
        if running >= candidate["max_active_runs"]:
            return "full"
        if not await transition_run(uow, run_row, run_rules.StartQueuedRun):
            return "skipped"
        await evaluate_run(ctx, uow, await dag_runs.lock_run(conn=uow.conn, run_pk=run_row["id"]))
    return "started"
