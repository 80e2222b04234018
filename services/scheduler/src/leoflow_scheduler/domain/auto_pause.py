"""Airflow's max_consecutive_failed_dag_runs: when a DAG's latest N runs (by
run_after, then id) all failed, the scheduler pauses the DAG and says so in the
audit log (owner "scheduler")."""

from __future__ import annotations

import logging

from ..repository import audit_log, dag_runs, dags
from .uow import UnitOfWork

log = logging.getLogger(__name__)


async def pause_after_consecutive_failures(uow: UnitOfWork, run_row) -> bool:
    """Pause the run's DAG if its failure streak reached the limit; True if paused.
    Called after a run failed, holding its row lock (runs before the DAG row)."""
    tenant_id, dag_id = run_row["tenant_id"], run_row["dag_id"]
    dag = await dags.get_dag(conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id)
    limit = dag["max_consecutive_failed_dag_runs"] if dag is not None else 0
    if limit <= 0 or dag["is_paused"]:
        return False
    states = await dag_runs.latest_states(
        conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id, limit=limit
    )
    if len(states) < limit or any(state != "failed" for state in states):
        return False
    await dags.set_paused(conn=uow.conn, tenant_id=tenant_id, dag_id=dag_id, is_paused=True)
    await audit_log.write_event(
        conn=uow.conn, tenant_id=tenant_id, event="paused", owner="scheduler", dag_id=dag_id,
        extra={"is_paused": True, "reason": f"the last {limit} DAG runs failed"},
    )  # fmt: skip
    log.info("paused DAG %s: its last %s runs failed", dag_id, limit)
    return True
