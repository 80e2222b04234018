"""Leader election by a PostgreSQL session-level advisory lock.

The leader holds `pg_advisory_lock(key)` on a connection of its own. If the
leader process dies (even by SIGKILL) its connection closes and PostgreSQL
releases the lock at once; a standby polling `pg_try_advisory_lock` takes over
within `poll_interval`. A leader that loses its connection stops its leader-only
work before anything else, so two leaders never act at the same time for longer
than the watchdog interval.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import asyncpg

log = logging.getLogger(__name__)


class LeaderElector:
    def __init__(
        self,
        dsn: str,
        lock_key: int,
        leader_work: Callable[[], Awaitable[None]],
        *,
        poll_interval: float = 0.5,
        watchdog_interval: float = 1.0,
        name: str = "leader",
    ):
        self._dsn = dsn
        self._key = lock_key
        self._work = leader_work
        self._poll = poll_interval
        self._watchdog = watchdog_interval
        self._name = name
        self.is_leader = asyncio.Event()

    async def run(self) -> None:
        """Campaign forever; run `leader_work` while leader; cancel it on loss."""
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self._dsn, timeout=5)
                while not await conn.fetchval("SELECT pg_try_advisory_lock($1)", self._key):
                    await asyncio.sleep(self._poll)
                log.info("%s: elected", self._name)
                await self._lead(conn)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - connection trouble: campaign again
                log.warning("%s: lost leadership or connection: %s", self._name, exc)
                await asyncio.sleep(self._poll)
            finally:
                self.is_leader.clear()
                if conn is not None:
                    conn.terminate()

    async def _lead(self, conn: asyncpg.Connection) -> None:
        self.is_leader.set()
        work = asyncio.create_task(self._work(), name=f"{self._name}:work")
        try:
            while True:
                done, _ = await asyncio.wait({work}, timeout=self._watchdog)
                if done:
                    work.result()  # leader work must not end; surface why it did
                    raise RuntimeError("leader work returned")
                await asyncio.wait_for(conn.fetchval("SELECT 1"), timeout=self._watchdog * 3)
        finally:
            self.is_leader.clear()
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
