"""connections: Airflow's Connections, one row per (tenant, conn_id). The password
and the extra are stored only as ciphertext (`password_enc`, `extra_enc`); the
extra is also kept masked (`extra_masked`), which is what every read returns."""

from __future__ import annotations

from typing import Any

import asyncpg

from ._search import add_pattern, add_prefix_pattern
from ._sql import Filters, order_clause

CONNECTION_ORDER_COLUMNS = {
    "conn_id": "conn_id",
    "connection_id": "conn_id",
    "conn_type": "conn_type",
    "description": "description",
    "host": "host",
    "port": "port",
    "id": "id",
    "team_name": "team_name",
}

# Columns a write sets (everything but identity and bookkeeping).
WRITABLE = (
    "conn_type", "description", "host", "login", "schema", "port",
    "password_enc", "extra_enc", "extra_masked", "team_name",
)  # fmt: skip


async def get(*, conn: asyncpg.Connection, tenant_id: str, conn_id: str, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT * FROM connections WHERE tenant_id = $1 AND conn_id = $2{lock}", tenant_id, conn_id
    )


async def existing(*, conn: asyncpg.Connection, tenant_id: str, conn_ids: list[str]) -> dict[str, asyncpg.Record]:
    """The rows of those of `conn_ids` that exist, locked for the transaction."""
    rows = await conn.fetch(
        "SELECT * FROM connections WHERE tenant_id = $1 AND conn_id = ANY($2::text[]) ORDER BY conn_id FOR UPDATE",
        tenant_id,
        conn_ids,
    )
    return {r["conn_id"]: r for r in rows}


async def insert(*, conn: asyncpg.Connection, tenant_id: str, conn_id: str, values: dict[str, Any]) -> asyncpg.Record | None:
    """The new row, or None when the id exists."""
    columns = ["tenant_id", "conn_id", *WRITABLE]
    params = [tenant_id, conn_id, *(values.get(c) for c in WRITABLE)]
    placeholders = ", ".join(f"${i}" for i in range(1, len(params) + 1))
    return await conn.fetchrow(
        f"INSERT INTO connections ({', '.join(columns)}) VALUES ({placeholders}) "
        "ON CONFLICT (tenant_id, conn_id) DO NOTHING RETURNING *",
        *params,
    )


async def update(*, conn: asyncpg.Connection, tenant_id: str, conn_id: str, values: dict[str, Any]) -> asyncpg.Record | None:
    assignments = ", ".join(f"{c} = ${i}" for i, c in enumerate(WRITABLE, start=3))
    return await conn.fetchrow(
        f"UPDATE connections SET {assignments}, updated_at = now() WHERE tenant_id = $1 AND conn_id = $2 RETURNING *",
        tenant_id,
        conn_id,
        *(values.get(c) for c in WRITABLE),
    )


async def delete(*, conn: asyncpg.Connection, tenant_id: str, conn_id: str) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM connections WHERE tenant_id = $1 AND conn_id = $2 RETURNING id", tenant_id, conn_id
    )
    return deleted is not None


async def list_page(
    *, conn: asyncpg.Connection, tenant_id: str, id_pattern: str, id_prefix_pattern: str,
    order_by: list[str], limit: int, offset: int,
) -> tuple[list[asyncpg.Record], int]:  # fmt: skip
    """A page of connections and the number matching; KeyError names an unknown order_by."""
    f = Filters()
    f.add("tenant_id = ?", tenant_id)
    add_pattern(f, "conn_id", id_pattern)
    add_prefix_pattern(f, "conn_id", id_prefix_pattern)
    tiebreak = "id DESC" if order_by and order_by[0].startswith("-") else "id ASC"
    order = order_clause(order_by, CONNECTION_ORDER_COLUMNS, ["id"], tiebreak)
    total = await conn.fetchval(f"SELECT count(*) FROM connections{f.where()}", *f.params)
    limit_p, offset_p = f.param(limit), f.param(offset)
    rows = await conn.fetch(f"SELECT * FROM connections{f.where()}{order} LIMIT {limit_p} OFFSET {offset_p}", *f.params)
    return rows, total


async def all_of_tenant(*, conn: asyncpg.Connection, tenant_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM connections WHERE tenant_id = $1 ORDER BY conn_id", tenant_id)
