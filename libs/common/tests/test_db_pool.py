"""The shared asyncpg pool releases connections without asyncpg's session reset
(leoflow_common.db): safe only while pooled connections hold no session state."""

from __future__ import annotations

import re
from pathlib import Path

from leoflow_common.db import create_pool

REPO = Path(__file__).resolve().parents[3]
# Code that takes session-level advisory locks, each on a connection of its own.
DEDICATED_CONNECTIONS = {
    "libs/common/src/leoflow_common/runtime/leader.py",
    "services/scheduler/src/leoflow_scheduler/migrations/__init__.py",
}


async def test_a_transaction_left_open_is_rolled_back_on_release(fresh_database):
    pool = await create_pool(fresh_database, min_size=1, max_size=1)
    try:
        await pool.execute("CREATE TABLE marks (n int)")
        async with pool.acquire() as conn:
            transaction = conn.transaction()
            await transaction.start()
            await conn.execute("INSERT INTO marks VALUES (1)")
            # released without commit or rollback
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT count(*) FROM marks") == 0
            assert await conn.fetchval("SELECT current_setting('timezone')") == "UTC"
    finally:
        await pool.close()


def test_no_pooled_code_takes_session_level_locks_or_listens():
    """pg_advisory_lock / pg_try_advisory_lock (session scope) and LISTEN would
    outlive the transaction on a pooled connection that is not reset."""
    session_scoped = re.compile(r"pg_(try_)?advisory_lock\(|[\"']\s*LISTEN\b|add_listener\(|SET SESSION")
    offenders = []
    for path in [*REPO.glob("services/*/src/**/*.py"), *REPO.glob("libs/*/src/**/*.py")]:
        relative = path.relative_to(REPO).as_posix()
        if relative in DEDICATED_CONNECTIONS or "wake_listener" in relative:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if session_scoped.search(line) and not line.lstrip().startswith("#"):
                offenders.append(f"{relative}:{number}: {line.strip()}")
    assert offenders == [], "session state on pooled connections:\n" + "\n".join(offenders)
