"""inbox: the envelope ids a consumer already applied (idempotency)."""

from __future__ import annotations

import asyncpg


async def claim(
    *, conn: asyncpg.Connection, consumer: str, envelope_id: str, tenant_id: str
) -> bool:
    """Record that `consumer` applies `envelope_id` in this transaction; False if it
    already did (the message is a duplicate)."""
    row = await conn.fetchrow(
        "INSERT INTO inbox (consumer, envelope_id, tenant_id) VALUES ($1, $2, $3) "
        "ON CONFLICT (consumer, envelope_id) DO NOTHING RETURNING envelope_id",
        consumer,
        envelope_id,
        tenant_id,
    )
    return row is not None


async def prune(*, conn: asyncpg.Connection, older_than_seconds: float) -> int:
    """Forget envelope ids applied longer ago than the retention."""
    result = await conn.execute(
        "DELETE FROM inbox WHERE processed_at < now() - make_interval(secs => $1)",
        older_than_seconds,
    )
    return int(result.split()[-1])
