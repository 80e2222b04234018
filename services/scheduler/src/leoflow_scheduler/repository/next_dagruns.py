"""The dags table's next_dagrun_* columns (the REST/UI "Next Run" and what the
schedule timer waits for), and the DAGs whose next scheduled run is due."""

from __future__ import annotations

from datetime import datetime

import asyncpg

# DAGs that may create a scheduled run: unpaused, live, and under max_active_runs
# counting their queued and running runs that no backfill owns (Airflow's
# exceeds_max_non_backfill).
_SCHEDULABLE = """
FROM dags d
WHERE NOT d.is_paused AND NOT d.is_stale AND d.next_dagrun_run_after IS NOT NULL
  AND (SELECT count(*) FROM dag_runs r WHERE r.tenant_id = d.tenant_id AND r.dag_id = d.dag_id
         AND r.state IN ('queued', 'running') AND r.run_type <> 'backfill') < d.max_active_runs
"""


async def store(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    dag_id: str,
    logical_date: datetime | None,
    interval_start: datetime | None,
    interval_end: datetime | None,
    run_after: datetime | None,
) -> None:
    """Set (or clear, with Nones) the DAG's next scheduled run."""
    await conn.execute(
        "UPDATE dags SET next_dagrun_logical_date = $3, next_dagrun_data_interval_start = $4, "
        "next_dagrun_data_interval_end = $5, next_dagrun_run_after = $6 WHERE tenant_id = $1 AND dag_id = $2",
        tenant_id,
        dag_id,
        logical_date,
        interval_start,
        interval_end,
        run_after,
    )


async def due(*, conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Schedulable DAGs whose next run is due now, most overdue first."""
    return await conn.fetch(
        f"SELECT d.tenant_id, d.dag_id {_SCHEDULABLE} AND d.next_dagrun_run_after <= now() "
        "ORDER BY d.next_dagrun_run_after LIMIT $1",
        limit,
    )


async def next_due(*, conn: asyncpg.Connection) -> datetime | None:
    """When the earliest schedulable DAG's next run becomes due."""
    return await conn.fetchval(f"SELECT min(d.next_dagrun_run_after) {_SCHEDULABLE}")


async def lock_dag(*, conn: asyncpg.Connection, tenant_id: str, dag_id: str) -> asyncpg.Record | None:
    """The DAG's row, locked (skipped when another transaction holds it)."""
    return await conn.fetchrow(
        "SELECT * FROM dags WHERE tenant_id = $1 AND dag_id = $2 FOR UPDATE SKIP LOCKED", tenant_id, dag_id
    )
