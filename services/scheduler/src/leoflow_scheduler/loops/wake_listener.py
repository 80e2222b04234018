"""LISTEN for wake-ups committed by any replica (see domain.uow) and fire the
local signals, so the leader reacts at once to a trigger or an outbox row
written by a replica that only serves the API."""

from __future__ import annotations

import asyncio
import logging

import asyncpg

from ..domain.context import SchedulerContext
from ..domain.uow import NOTIFY_CHANNEL, WAKE_KINDS

log = logging.getLogger(__name__)


class WakeListener:
    """Turns other replicas' NOTIFYs into local wake-ups."""

    def __init__(self, ctx: SchedulerContext, *, reconnect_delay: float = 1.0):
        self._ctx = ctx
        self._reconnect_delay = reconnect_delay

    def _on_notify(self, _conn, _pid, _channel, payload: str) -> None:
        self._ctx.signals.fire(kind for kind in payload.split(",") if kind in WAKE_KINDS)

    async def run(self) -> None:
        while True:
            conn = None
            try:
                conn = await asyncpg.connect(self._ctx.settings.database_url, timeout=10)
                closed = asyncio.Event()
                conn.add_termination_listener(lambda _c, event=closed: event.set())
                await conn.add_listener(NOTIFY_CHANNEL, self._on_notify)
                # Anything committed while we were not listening is caught up now.
                self._ctx.signals.fire(WAKE_KINDS)
                await closed.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - reconnect; loops still run on their intervals
                log.warning("wake listener lost its connection: %s", exc)
            finally:
                if conn is not None and not conn.is_closed():
                    await conn.close()
            await asyncio.sleep(self._reconnect_delay)
