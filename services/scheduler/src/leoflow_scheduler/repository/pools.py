"""pools: Airflow's slot pools, per tenant. Slot statistics are computed from
the task instances (as Airflow's Pool.slots_stats): running, queued, scheduled
and deferred slots are sums of pool_slots by state; occupied = running + queued
(+ deferred when the pool includes deferred); open = slots - occupied (-1 slots
is unlimited)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from ._sql import Filters, like_escape, order_clause

DEFAULT_POOL = "default_pool"
POOL_ORDER_COLUMNS = {"id": "p.id", "pool": "p.name", "name": "p.name"}

_STATS = """
SELECT p.*,
       coalesce(s.running, 0) AS running_slots, coalesce(s.queued, 0) AS queued_slots,
       coalesce(s.scheduled, 0) AS scheduled_slots, coalesce(s.deferred, 0) AS deferred_slots
FROM pools p
LEFT JOIN LATERAL (
    SELECT sum(pool_slots) FILTER (WHERE state = 'running') AS running,
           sum(pool_slots) FILTER (WHERE state = 'queued') AS queued,
           sum(pool_slots) FILTER (WHERE state = 'scheduled') AS scheduled,
           sum(pool_slots) FILTER (WHERE state = 'deferred') AS deferred
    FROM task_instances ti
    WHERE ti.tenant_id = p.tenant_id AND ti.pool = p.name
      AND ti.state IN ('running', 'queued', 'scheduled', 'deferred')
) s ON true
"""


async def ensure_default(*, conn: asyncpg.Connection, tenant_id: str, slots: int) -> None:
    """Create the tenant's default_pool if it is missing (Airflow always has one)."""
    await conn.execute("INSERT INTO tenants (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", tenant_id)
    await conn.execute(
        "INSERT INTO pools (tenant_id, name, slots, description) VALUES ($1, $2, $3, 'Default pool') "
        "ON CONFLICT DO NOTHING",
        tenant_id,
        DEFAULT_POOL,
        slots,
    )


async def get_with_stats(*, conn: asyncpg.Connection, tenant_id: str, name: str) -> asyncpg.Record | None:
    """A pool with its slot statistics, or None."""
    return await conn.fetchrow(f"{_STATS} WHERE p.tenant_id = $1 AND p.name = $2", tenant_id, name)


async def lock(*, conn: asyncpg.Connection, tenant_id: str, name: str) -> asyncpg.Record | None:
    """Lock the pool's row for the transaction (queueing into it is serialized)."""
    return await conn.fetchrow(
        "SELECT * FROM pools WHERE tenant_id = $1 AND name = $2 FOR UPDATE", tenant_id, name
    )


async def occupied_slots(
    *, conn: asyncpg.Connection, tenant_id: str, name: str, include_deferred: bool
) -> int:
    """Slots held by the pool's queued and running (and deferred) task instances."""
    states = ["queued", "running", "deferred"] if include_deferred else ["queued", "running"]
    return await conn.fetchval(
        "SELECT coalesce(sum(pool_slots), 0) FROM task_instances "
        "WHERE tenant_id = $1 AND pool = $2 AND state = ANY($3::text[])",
        tenant_id,
        name,
        states,
    )


@dataclass
class PoolQuery:
    """ListPools filters."""

    name_pattern: str = ""
    name_prefixes: tuple[str, ...] = ()
    order_by: list[str] | None = None
    limit: int = 100
    offset: int = 0


async def list_with_stats(
    *, conn: asyncpg.Connection, tenant_id: str, query: PoolQuery
) -> tuple[list[asyncpg.Record], int]:
    """A page of pools with statistics; KeyError for an unknown sort column."""
    f = Filters()
    f.add("p.tenant_id = ?", tenant_id)
    if query.name_pattern:
        f.add("p.name ILIKE ?", f"%{query.name_pattern}%")
    if query.name_prefixes:
        f.add("p.name LIKE ANY(?::text[])", [f"{like_escape(prefix)}%" for prefix in query.name_prefixes])
    order = order_clause(query.order_by or [], POOL_ORDER_COLUMNS, ["id"], "p.id")
    total = await conn.fetchval(f"SELECT count(*) FROM pools p{f.where()}", *f.params)
    limit, offset = f.param(query.limit), f.param(query.offset)
    rows = await conn.fetch(f"{_STATS}{f.where()}{order} LIMIT {limit} OFFSET {offset}", *f.params)
    return rows, total


async def insert(*, conn: asyncpg.Connection, tenant_id: str, values: dict[str, Any]) -> bool:
    """Create a pool; False if the name is taken."""
    row = await conn.fetchrow(
        "INSERT INTO pools (tenant_id, name, slots, description, include_deferred) VALUES ($1, $2, $3, $4, $5) "
        "ON CONFLICT DO NOTHING RETURNING id",
        tenant_id,
        values["name"],
        values["slots"],
        values.get("description"),
        values.get("include_deferred", False),
    )
    return row is not None


async def update(
    *, conn: asyncpg.Connection, tenant_id: str, name: str, changes: dict[str, Any]
) -> bool:
    """Change some of slots / description / include_deferred; False if there is no such pool."""
    allowed = {"slots", "description", "include_deferred"}
    assert set(changes) <= allowed, changes
    if not changes:
        return await conn.fetchval(
            "SELECT true FROM pools WHERE tenant_id = $1 AND name = $2", tenant_id, name
        ) is not None
    assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(changes, start=3))
    result = await conn.execute(
        f"UPDATE pools SET {assignments}, updated_at = now() WHERE tenant_id = $1 AND name = $2",
        tenant_id,
        name,
        *changes.values(),
    )
    return result != "UPDATE 0"


async def delete(*, conn: asyncpg.Connection, tenant_id: str, name: str) -> bool:
    """Delete a pool; False if there is no such pool."""
    result = await conn.execute("DELETE FROM pools WHERE tenant_id = $1 AND name = $2", tenant_id, name)
    return result != "DELETE 0"


async def existing_names(*, conn: asyncpg.Connection, tenant_id: str, names: list[str]) -> set[str]:
    """Which of `names` are pools of the tenant."""
    rows = await conn.fetch(
        "SELECT name FROM pools WHERE tenant_id = $1 AND name = ANY($2::text[])", tenant_id, names
    )
    return {row["name"] for row in rows}
