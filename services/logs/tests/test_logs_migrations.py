"""Schema "logs" comes from this service's own migrations, version table included."""

from __future__ import annotations

import asyncio
import os
import sys

import asyncpg
from leoflow_logs.migrate import upgrade_database


async def test_concurrent_migrations_converge_and_keep_to_their_schema(fresh_database):
    dsn = f"{fresh_database}?application_name=logs-migrations"
    env = {
        **os.environ,
        "LEOFLOW_LOGS_DATABASE_URL": dsn,
        "LEOFLOW_JWT_SECRET": "unused-by-migrate",
    }
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "leoflow_logs", "migrate", env=env
        )
        for _ in range(2)
    ]
    codes = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), timeout=120)
    assert codes == [0, 0]
    await asyncio.gather(
        upgrade_database(dsn), upgrade_database(dsn)
    )  # in-process too: nothing left to do
    conn = await asyncpg.connect(fresh_database)
    try:
        tables = await conn.fetch(
            "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1, 2"
        )
        version = await conn.fetchval("SELECT version_num FROM logs.alembic_version")
    finally:
        await conn.close()
    assert [tuple(t) for t in tables] == [
        ("logs", "alembic_version"),
        ("logs", "log_records"),
        ("logs", "log_tries"),
    ]
    assert version == "0001"
