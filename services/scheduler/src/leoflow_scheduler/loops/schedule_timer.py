"""process_schedule: create the runs the timetables ask for. The timer sleeps
until the earliest next_dagrun_run_after of a schedulable DAG (capped), and is
woken on registration, unpause and the end of any run (a max_active_runs slot
may have freed), so it never polls every DAG."""

from __future__ import annotations

import asyncio
import logging

from ..domain.context import SchedulerContext
from ..domain.scheduled_runs import create_due_runs, next_due
from ..domain.uow import utcnow

log = logging.getLogger(__name__)

# Never spin: even when something stays due, wait at least this long.
MIN_SLEEP = 0.05
BATCH = 100


class ScheduleTimer:
    """Sleeps until the next scheduled run is due (see the module docstring)."""

    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self) -> float:
        """Create due runs; return how long to sleep until the next is due."""
        while await create_due_runs(self._ctx, batch=BATCH) >= BATCH:
            pass
        due = await next_due(self._ctx)
        cap = self._ctx.settings.schedule_timer_max_sleep
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
                log.exception("schedule timer pass failed")
                delay = self._ctx.settings.schedule_timer_max_sleep
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                pass
