"""This service's schema migrations (alembic), run on start when
LEOFLOW_XCOM_MIGRATE_ON_START is true or by `python -m leoflow_xcom migrate`.

The service owns the PostgreSQL schema "xcom" and keeps its alembic version table
inside it, so its migrations never meet another service's. Concurrent starts are
serialized by an advisory lock taken in the migration transaction.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config

SCHEMA = "xcom"
VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock key that serializes concurrent migrators of this schema.
MIGRATION_LOCK_KEY = 0x4C58434F  # "LXCO"
_SCRIPTS = Path(__file__).parent / "migrations"
# Alembic keeps its running environment in a module global, so two upgrades in
# one process must not overlap; other processes are held off by the advisory lock.
_IN_PROCESS = threading.Lock()


def alembic_config(dsn: str) -> Config:
    # The env connects with asyncpg itself, so any DSN asyncpg takes (query
    # parameters such as application_name included) works here as in the service.
    if not dsn.startswith(("postgresql://", "postgres://")):
        raise ValueError(f"not a PostgreSQL URL: {dsn.split('://', 1)[0]}://...")
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.attributes["dsn"] = dsn
    return config


async def upgrade_database(dsn: str, revision: str = "head") -> None:
    """Bring schema "xcom" of `dsn` to `revision`. Alembic is synchronous and its env
    runs its own event loop, so it runs in a worker thread."""
    config = alembic_config(dsn)

    def upgrade() -> None:
        with _IN_PROCESS:
            command.upgrade(config, revision)

    await asyncio.to_thread(upgrade)
