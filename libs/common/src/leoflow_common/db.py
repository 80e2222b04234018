"""PostgreSQL connection pools (asyncpg) configured the same way everywhere."""

from __future__ import annotations

import json

import asyncpg


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")
    await conn.set_type_codec("json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Release without asyncpg's session reset (pg_advisory_unlock_all, CLOSE ALL,
    UNLISTEN *, RESET ALL): one round trip saved on every release, and a
    transaction makes several. Safe because pooled connections never hold session
    state: advisory locks taken on them are transaction-scoped (*_xact_lock), and
    session locks (leader election, migrations) and LISTEN use connections of their
    own. An open transaction is still rolled back by the pool before this runs."""


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """A pool whose connections speak UTC and decode json/jsonb to Python values."""
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        server_settings={"timezone": "UTC", "application_name": "leoflow"},
    )
