"""Earlier runs of a DAG as the template context shows them."""

from __future__ import annotations

import asyncpg


async def previous_success(*, conn: asyncpg.Connection, run_row) -> asyncpg.Record | None:
    """The DAG's latest successful run before this one (Airflow's
    get_previous_dagrun(state=SUCCESS): by logical date, run_after without one)."""
    return await conn.fetchrow(
        "SELECT run_id, start_date, end_date, data_interval_start, data_interval_end FROM dag_runs "
        "WHERE tenant_id = $1 AND dag_id = $2 AND state = 'success' AND id <> $3 "
        "AND coalesce(logical_date, run_after) < coalesce($4::timestamptz, $5::timestamptz) "
        "ORDER BY coalesce(logical_date, run_after) DESC LIMIT 1",
        run_row["tenant_id"],
        run_row["dag_id"],
        run_row["id"],
        run_row["logical_date"],
        run_row["run_after"],
    )
