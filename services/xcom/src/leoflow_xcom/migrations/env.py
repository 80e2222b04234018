"""Alembic environment of the xcom service: online only, asyncpg, version table
and objects in schema "xcom", one transaction under an advisory lock."""

from __future__ import annotations

import asyncio

import asyncpg
from alembic import context
from leoflow_xcom.migrate import MIGRATION_LOCK_KEY, SCHEMA, VERSION_TABLE
from sqlalchemy import pool, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def _run(connection: Connection) -> None:
    connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
    connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{SCHEMA}"'))
    context.configure(
        connection=connection, version_table=VERSION_TABLE, version_table_schema=SCHEMA
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    dsn = context.config.attributes["dsn"]
    engine = create_async_engine(
        "postgresql+asyncpg://", async_creator=lambda: asyncpg.connect(dsn), poolclass=pool.NullPool
    )
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("the xcom service's migrations run online only")
asyncio.run(_run_online())
