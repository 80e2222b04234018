"""variables: Airflow's Variables, one row per (tenant, key); the value is stored
only as ciphertext (`val_enc`, see metadata/crypto.py)."""

from __future__ import annotations

import asyncpg

from ._search import add_pattern, add_prefix_pattern
from ._sql import Filters, order_clause

# Airflow's sortable names -> SQL ("_val" sorts by the stored ciphertext, as
# Airflow's sorts by the Fernet token).
VARIABLE_ORDER_COLUMNS = {
    "key": "key",
    "id": "id",
    "_val": "val_enc",
    "description": "description",
    "is_encrypted": "(val_enc IS NOT NULL)",
    "team_name": "team_name",
}


async def get(*, conn: asyncpg.Connection, tenant_id: str, key: str, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT * FROM variables WHERE tenant_id = $1 AND key = $2{lock}", tenant_id, key)


async def existing_keys(*, conn: asyncpg.Connection, tenant_id: str, keys: list[str]) -> set[str]:
    rows = await conn.fetch(
        "SELECT key FROM variables WHERE tenant_id = $1 AND key = ANY($2::text[])", tenant_id, keys
    )
    return {r["key"] for r in rows}


async def insert(
    *, conn: asyncpg.Connection, tenant_id: str, key: str, val_enc: str, description: str | None, team_name: str | None
) -> asyncpg.Record | None:
    """The new row, or None when the key exists."""
    return await conn.fetchrow(
        """
        INSERT INTO variables (tenant_id, key, val_enc, description, team_name)
        VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, key) DO NOTHING RETURNING *
        """,
        tenant_id, key, val_enc, description, team_name,
    )  # fmt: skip


async def update(
    *, conn: asyncpg.Connection, tenant_id: str, key: str, val_enc: str, description: str | None, team_name: str | None
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """
        UPDATE variables SET val_enc = $3, description = $4, team_name = $5, updated_at = now()
        WHERE tenant_id = $1 AND key = $2 RETURNING *
        """,
        tenant_id, key, val_enc, description, team_name,
    )  # fmt: skip


async def delete(*, conn: asyncpg.Connection, tenant_id: str, key: str) -> bool:
    deleted = await conn.fetchval(
        "DELETE FROM variables WHERE tenant_id = $1 AND key = $2 RETURNING id", tenant_id, key
    )
    return deleted is not None


async def list_page(
    *, conn: asyncpg.Connection, tenant_id: str, key_pattern: str, key_prefix_pattern: str,
    order_by: list[str], limit: int, offset: int,
) -> tuple[list[asyncpg.Record], int]:  # fmt: skip
    """A page of variables and the number matching; KeyError names an unknown order_by."""
    f = Filters()
    f.add("tenant_id = ?", tenant_id)
    add_pattern(f, "key", key_pattern)
    add_prefix_pattern(f, "key", key_prefix_pattern)
    tiebreak = "id DESC" if order_by and order_by[0].startswith("-") else "id ASC"
    order = order_clause(order_by, VARIABLE_ORDER_COLUMNS, ["id"], tiebreak)
    total = await conn.fetchval(f"SELECT count(*) FROM variables{f.where()}", *f.params)
    limit_p, offset_p = f.param(limit), f.param(offset)
    rows = await conn.fetch(f"SELECT * FROM variables{f.where()}{order} LIMIT {limit_p} OFFSET {offset_p}", *f.params)
    return rows, total


async def all_of_tenant(*, conn: asyncpg.Connection, tenant_id: str) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT * FROM variables WHERE tenant_id = $1 ORDER BY key", tenant_id)
