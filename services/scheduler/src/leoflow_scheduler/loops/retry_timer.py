"""process_retries: start the next try of task instances whose retry delay has
passed. The timer sleeps until the earliest next_retry_at (capped), and is woken
whenever a task instance goes up for retry, so it neither polls every task nor
misses a due retry."""

from __future__ import annotations

import asyncio
import logging

from ..domain.context import SchedulerContext
from ..domain.retries import next_retry_due, queue_due_retries
from ..domain.uow import utcnow

log = logging.getLogger(__name__)

# Never spin: even when something stays due, wait at least this long.
MIN_SLEEP = 0.05


class RetryTimer:
    """Sleeps until the next retry is due (see the module docstring)."""

    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> float:
        """Queue due retries; return how long to sleep until the next one is due."""
        await queue_due_retries(self._ctx)
        due = await next_retry_due(self._ctx)
        cap = self._ctx.settings.retry_timer_max_sleep
        if due is None:
            return cap
        return min(cap, max(MIN_SLEEP, (due - utcnow()).total_seconds()))

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                delay = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - logged; the next pass retries
                log.exception("retry timer pass failed")
                delay = self._ctx.settings.retry_timer_max_sleep
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass
