"""backfills and backfill_dag_runs: Airflow 3's backfill and one association row
per date of its range (the run it created or re-queued, or why it did not)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from ._sql import order_clause

BACKFILL_ORDER_COLUMNS = {"id": "b.id"}

_SELECT = """
SELECT b.*, d.display_name AS dag_display_name
FROM backfills b JOIN dags d ON d.tenant_id = b.tenant_id AND d.dag_id = b.dag_id
"""


async def insert(*, conn: asyncpg.Connection, tenant_id: str, values: dict[str, Any]) -> int | None:
    """Create a backfill; None if the DAG already has an active one."""
    return await conn.fetchval(
        """
        INSERT INTO backfills (tenant_id, dag_id, from_date, to_date, dag_run_conf, reprocess_behavior,
                               max_active_runs, run_backwards, triggering_user_name)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT DO NOTHING RETURNING id
        """,
        tenant_id,
        values["dag_id"],
        values["from_date"],
        values["to_date"],
        values["dag_run_conf"],
        values["reprocess_behavior"],
        values["max_active_runs"],
        values["run_backwards"],
        values["triggering_user_name"],
    )


async def get(*, conn: asyncpg.Connection, tenant_id: str, backfill_id: int) -> asyncpg.Record | None:
    """A backfill with its DAG's display name, or None."""
    return await conn.fetchrow(f"{_SELECT} WHERE b.tenant_id = $1 AND b.id = $2", tenant_id, backfill_id)


async def lock(*, conn: asyncpg.Connection, tenant_id: str, backfill_id: int) -> asyncpg.Record | None:
    """Lock the backfill's row for the transaction and return it."""
    return await conn.fetchrow(
        "SELECT * FROM backfills WHERE tenant_id = $1 AND id = $2 FOR UPDATE", tenant_id, backfill_id
    )


async def active_for_dag(*, conn: asyncpg.Connection, tenant_id: str, dag_id: str) -> int | None:
    """The id of the DAG's backfill that has not completed, if any."""
    return await conn.fetchval(
        "SELECT id FROM backfills WHERE tenant_id = $1 AND dag_id = $2 AND completed_at IS NULL",
        tenant_id,
        dag_id,
    )


async def list_backfills(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    dag_id: str | None,
    active: bool | None,
    order_by: list[str],
    limit: int,
    offset: int,
) -> tuple[list[asyncpg.Record], int]:
    """A page of backfills (of one DAG, and/or only active ones); KeyError for a bad sort column."""
    where = " WHERE b.tenant_id = $1 AND ($2::text IS NULL OR b.dag_id = $2) AND ($3::boolean IS NULL OR (b.completed_at IS NULL) = $3)"
    order = order_clause(order_by, BACKFILL_ORDER_COLUMNS, ["id"], "b.id")
    total = await conn.fetchval(f"SELECT count(*) FROM backfills b{where}", tenant_id, dag_id, active)
    rows = await conn.fetch(f"{_SELECT}{where}{order} LIMIT $4 OFFSET $5", tenant_id, dag_id, active, limit, offset)
    return rows, total


async def set_paused(*, conn: asyncpg.Connection, backfill_id: int, is_paused: bool) -> None:
    await conn.execute(
        "UPDATE backfills SET is_paused = $2, updated_at = now() WHERE id = $1", backfill_id, is_paused
    )


async def mark_completed(*, conn: asyncpg.Connection, backfill_id: int, when: datetime) -> None:
    await conn.execute(
        "UPDATE backfills SET completed_at = $2, updated_at = now() WHERE id = $1 AND completed_at IS NULL",
        backfill_id,
        when,
    )


async def add_dag_run(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    backfill_id: int,
    dag_run_id: int | None,
    logical_date: datetime,
    sort_ordinal: int,
    exception_reason: str | None = None,
) -> None:
    """Record what the backfill did for one date."""
    await conn.execute(
        "INSERT INTO backfill_dag_runs (tenant_id, backfill_id, dag_run_id, logical_date, sort_ordinal, exception_reason) "
        "VALUES ($1, $2, $3, $4, $5, $6)",
        tenant_id,
        backfill_id,
        dag_run_id,
        logical_date,
        sort_ordinal,
        exception_reason,
    )


async def completable(*, conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Active backfills none of whose runs is queued or running any more
    (Airflow's _mark_backfills_complete)."""
    return await conn.fetch(
        """
        SELECT b.id, b.tenant_id FROM backfills b
        WHERE b.completed_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM dag_runs r WHERE r.backfill_id = b.id AND r.state IN ('queued', 'running'))
        """
    )


async def queued_run_ids(*, conn: asyncpg.Connection, backfill_id: int) -> list[int]:
    """The backfill's runs still queued (cancel fails them)."""
    rows = await conn.fetch(
        "SELECT id FROM dag_runs WHERE backfill_id = $1 AND state = 'queued' ORDER BY id", backfill_id
    )
    return [row["id"] for row in rows]
