"""DAG(dagrun_timeout=...): failing running runs that ran too long.

As Airflow's scheduler (SchedulerJobRunner._schedule_dag_run) does, a running run
of an unpaused DAG whose start_date is more than dagrun_timeout ago (strictly:
start_date < now - dagrun_timeout; a zero timeout is no timeout) is failed:
- the run goes to failed;
- every unfinished task instance is set skipped (Airflow sets them skipped, not
  failed), and the tries that may still run are asked to stop (CancelRequested,
  as when a user marks the run failed);
- the DAG's on_failure_callback is requested with Airflow's reason "timed_out".

The timeout is the one of the run's DAG version (Airflow reads the serialized DAG
the run belongs to). The deadline is computed in SQL from the version's stored
spec (protobuf's JSON mapping: dagrun_timeout is a string such as "3600s"), so the
timer finds the earliest one without loading specs.
"""

from __future__ import annotations

import logging
from datetime import datetime

from leoflow_common.states import TI_EXECUTING, TI_UNFINISHED, DagRunState
from leoflow_common.states import TaskInstanceState as TI

from ..repository import dag_runs, dags, task_instances
from ..state_machine import propose_ti_state, run_rules, task_rules
from . import events
from .context import SchedulerContext
from .dag_callbacks import request_dag_callback
from .run_transitions import transition_run
from .tracing import continue_run_trace
from .uow import utcnow

log = logging.getLogger(__name__)

TIMED_OUT = "timed_out"  # Airflow's DagCallbackRequest msg for a timed-out run

_TIMEOUT = "(rtrim(v.spec->>'dagrun_timeout', 's')::numeric * interval '1 second')"
_CANDIDATES = f"""
    FROM dag_runs r
    JOIN dag_versions v ON v.id = r.dag_version_id
    JOIN dags d ON d.tenant_id = r.tenant_id AND d.dag_id = r.dag_id
    WHERE r.state = 'running' AND r.start_date IS NOT NULL AND NOT d.is_paused
      AND v.spec ? 'dagrun_timeout' AND {_TIMEOUT} > interval '0'
"""


async def due_run_pks(conn, now: datetime, limit: int) -> list:
    """Running runs whose timeout has passed at `now` (earliest deadline first)."""
    return await conn.fetch(
        f"SELECT r.id, r.trace_context {_CANDIDATES} AND r.start_date + {_TIMEOUT} < $1 "
        f"ORDER BY r.start_date + {_TIMEOUT} LIMIT $2",
        now,
        limit,
    )


async def next_timeout_due(ctx: SchedulerContext) -> datetime | None:
    """When the next running run times out (None: no running run has a timeout)."""
    async with ctx.pool.acquire() as conn:
        return await conn.fetchval(f"SELECT min(r.start_date + {_TIMEOUT}) {_CANDIDATES}")


async def fail_timed_out_runs(ctx: SchedulerContext, *, batch: int = 100) -> int:
    """Fail every run whose dagrun_timeout has passed; returns how many."""
    async with ctx.pool.acquire() as conn:
        due = await due_run_pks(conn, utcnow(), batch)
    failed = 0
    for row in due:
        with continue_run_trace(row["trace_context"]):
            failed += int(await time_out_run(ctx, row["id"]))
    return failed


async def time_out_run(ctx: SchedulerContext, run_pk: int) -> bool:
    """Fail one run if (still) timed out, under its lock; True if it was failed."""
    async with ctx.transaction() as uow:
        conn = uow.conn
        run_row = await dag_runs.lock_run(conn=conn, run_pk=run_pk)
        if run_row is None or run_row["state"] != DagRunState.RUNNING or run_row["start_date"] is None:
            return False
        dag_row = await dags.get_dag(conn=conn, tenant_id=run_row["tenant_id"], dag_id=run_row["dag_id"])
        if dag_row is None or dag_row["is_paused"]:
            return False
        version = await ctx.specs.get(conn, run_row["dag_version_id"])
        if not version.spec.HasField("dagrun_timeout"):
            return False
        timeout = version.spec.dagrun_timeout.ToTimedelta()
        now = utcnow()
        if not timeout or not run_row["start_date"] < now - timeout:
            return False
        reason = "DagRun timed out"
        for ti in await task_instances.for_run(conn=conn, run_pk=run_pk):
            current = TI.from_db(ti["state"])
            if current not in TI_UNFINISHED:
                continue
            if not await propose_ti_state(conn, ti["id"], task_rules.SkipOnRunTimeout, current):
                continue
            if current in TI_EXECUTING:
                await events.cancel_requested(uow, ti, reason)
        if not await transition_run(uow, run_row, run_rules.TimeOutRun):
            return False
        log.info("Run %s of %s has timed-out", run_row["run_id"], run_row["dag_id"])
        await request_dag_callback(uow, run_row, version, DagRunState.FAILED, TIMED_OUT)
        return True
