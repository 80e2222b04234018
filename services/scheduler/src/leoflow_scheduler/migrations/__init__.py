"""Database migrations (alembic), run programmatically.

`upgrade(dsn)` brings the metadata database to the newest revisions ("heads":
features developed side by side add revisions on branches of their own, and a
later revision may merge them). It holds a
PostgreSQL advisory lock for the whole run, so replicas that start together
migrate one after the other (the later ones find nothing to do). Revisions live
in `versions/`; each is plain SQL through `op.execute`.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

# "LEOM": distinct from the leader-election key so migrating never waits on a leader.
MIGRATION_LOCK_KEY = 0x4C454F4D
HEADS = "heads"


def _sqlalchemy_url(dsn: str) -> str:
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if dsn.startswith(prefix):
            return "postgresql+asyncpg://" + dsn[len(prefix) :]
    raise ValueError("the database URL must start with postgresql:// or postgres://")


def _config(connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent))
    cfg.attributes["connection"] = connection
    return cfg


async def upgrade(dsn: str, revision: str = HEADS) -> None:
    """Migrate the database at `dsn` to `revision` (every head by default).

    The advisory lock is held on a connection of its own for the whole run: it is
    released when that connection closes, even if this process dies midway."""
    lock_conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await lock_conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        engine = create_async_engine(_sqlalchemy_url(dsn), poolclass=NullPool)
        try:
            async with engine.begin() as conn:
                await conn.run_sync(lambda sync_conn: command.upgrade(_config(sync_conn), revision))
        finally:
            await engine.dispose()
    finally:
        await lock_conn.close()


def head_revisions() -> frozenset[str]:
    """The newest revision of each branch in versions/."""
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent))
    return frozenset(ScriptDirectory.from_config(cfg).get_heads())


async def current_revisions(dsn: str) -> frozenset[str]:
    """The revisions the database is at (empty before the first migration)."""
    engine = create_async_engine(_sqlalchemy_url(dsn), poolclass=NullPool)
    try:
        async with engine.connect() as conn:
            exists = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
            if not exists:
                return frozenset()
            return frozenset((await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars())
    finally:
        await engine.dispose()
