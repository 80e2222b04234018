"""Transactions and the wake-ups that follow them.

A UnitOfWork is one database transaction. Work that other loops must react to
(outbox rows to publish, runs to start, retries to time) is recorded on it with
`wake(...)`; when the transaction commits, a NOTIFY carries the wake-ups to the
leader (whichever replica it is) and the local `Signals` fire at once. Nothing
fires for a transaction that rolled back. Loops also run on an interval, so a
lost notification only delays work, never loses it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

import asyncpg

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "leoflow_scheduler_wake"
WAKE_OUTBOX = "outbox"
WAKE_RUNS = "runs"
WAKE_RETRIES = "retries"
# A slot may have freed (or a lock was contended): queue held task instances.
WAKE_SLOTS = "slots"
# A DAG's next scheduled run may have changed (registration, unpause, a run ended).
WAKE_SCHEDULE = "schedule"
# A backfill may have completed (one of its runs ended).
WAKE_BACKFILLS = "backfills"
WAKE_KINDS = frozenset(
    {WAKE_OUTBOX, WAKE_RUNS, WAKE_RETRIES, WAKE_SLOTS, WAKE_SCHEDULE, WAKE_BACKFILLS}
)


def utcnow() -> datetime:
    """Now, in UTC (the one clock the scheduler reads)."""
    return datetime.now(UTC)


class Signals:
    """Callbacks per wake-up kind; the leader registers its loops' wake()."""

    def __init__(self) -> None:
        self._callbacks: dict[str, list[Callable[[], None]]] = {}

    def connect(self, kind: str, callback: Callable[[], None]) -> Callable[[], None]:
        """Register `callback` for `kind`; returns a function that unregisters it."""
        self._callbacks.setdefault(kind, []).append(callback)
        return lambda: self._callbacks.get(kind, []).remove(callback)

    def fire(self, kinds) -> None:
        for kind in kinds:
            for callback in list(self._callbacks.get(kind, ())):
                callback()


@dataclass
class UnitOfWork:
    """One transaction and the wake-ups to send when it commits."""

    conn: asyncpg.Connection
    wakes: set[str] = field(default_factory=set)

    def wake(self, kind: str) -> None:
        """Ask for `kind` work to run once this transaction commits."""
        if kind not in WAKE_KINDS:
            raise ValueError(f"unknown wake-up kind {kind!r}")
        self.wakes.add(kind)


@asynccontextmanager
async def transaction(
    pool: asyncpg.Pool, signals: Signals | None = None
) -> AsyncIterator[UnitOfWork]:
    """A UnitOfWork on a pooled connection; commits on success, then wakes."""
    async with pool.acquire() as conn:
        async with conn.transaction():
            uow = UnitOfWork(conn)
            yield uow
            if uow.wakes:
                # Delivered by PostgreSQL only if the transaction commits.
                await conn.execute(
                    "SELECT pg_notify($1, $2)", NOTIFY_CHANNEL, ",".join(sorted(uow.wakes))
                )
        # Committed: wake the loops now, not after the connection's reset on
        # release (a round trip the outbox relay need not wait for).
        if signals is not None and uow.wakes:
            signals.fire(uow.wakes)
