"""outbox: events written in the same transaction as the change they announce.
The relay publishes pending rows in `seq` order; a row's id is its envelope id."""

from __future__ import annotations

import uuid

import asyncpg


async def append(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    event_type: str,
    payload: bytes,
    trace_context: dict[str, str],
) -> uuid.UUID:
    """Add an event to publish once this transaction commits; returns its id (the envelope id)."""
    row_id = uuid.uuid4()
    await conn.execute(
        "INSERT INTO outbox (id, tenant_id, event_type, payload, trace_context) VALUES ($1, $2, $3, $4, $5)",
        row_id,
        tenant_id,
        event_type,
        payload,
        trace_context,
    )
    return row_id


async def lock_pending(*, conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """The oldest unpublished rows, locked so that a second relay skips them."""
    return await conn.fetch(
        "SELECT id, seq, tenant_id, event_type, payload, trace_context FROM outbox WHERE published_at IS NULL "
        "ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )


async def mark_published(*, conn: asyncpg.Connection, ids: list[uuid.UUID]) -> None:
    """Record that the broker confirmed these rows."""
    await conn.execute("UPDATE outbox SET published_at = now() WHERE id = ANY($1::uuid[])", ids)


async def count_pending(*, conn: asyncpg.Connection) -> int:
    """How many rows wait to be published."""
    return await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")


async def prune_published(*, conn: asyncpg.Connection, older_than_seconds: float) -> int:
    """Delete rows published longer ago than the retention."""
    result = await conn.execute(
        "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < now() - make_interval(secs => $1)",
        older_than_seconds,
    )
    return int(result.split()[-1])
