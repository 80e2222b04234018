"""fail_timed_out_runs: fail the running runs whose dagrun_timeout has passed. The
timer sleeps until the earliest deadline (capped), and is woken whenever a run
changes state or a DAG is unpaused (WAKE_RUNS: a run that starts brings its
deadline), so it neither polls every run nor misses a deadline."""

from __future__ import annotations

import asyncio
import logging

from ..domain.context import SchedulerContext
from ..domain.run_timeouts import fail_timed_out_runs, next_timeout_due
from ..domain.uow import utcnow

log = logging.getLogger(__name__)

# Never spin: even when something stays due, wait at least this long.
MIN_SLEEP = 0.05


class RunTimeoutTimer:
    """Sleeps until the next run times out (see the module docstring)."""

    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> float:
        """Fail timed-out runs; return how long to sleep until the next deadline."""
        await fail_timed_out_runs(self._ctx)
        due = await next_timeout_due(self._ctx)
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
                log.exception("run timeout timer pass failed")
                delay = self._ctx.settings.retry_timer_max_sleep
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass
