"""tenants: one row per tenant, created on first use."""

from __future__ import annotations

import asyncpg


async def ensure_tenant(*, conn: asyncpg.Connection, tenant_id: str) -> None:
    """Create the tenant on first use."""
    await conn.execute(
        "INSERT INTO tenants (id) VALUES ($1) ON CONFLICT (id) DO NOTHING", tenant_id
    )
