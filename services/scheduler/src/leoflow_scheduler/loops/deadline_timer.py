"""A leader loop that does its due work, then sleeps until the next deadline
(capped) or until it is woken, whichever comes first: it neither polls every row
nor misses a deadline. Subclasses say what is due and when the next thing is."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from datetime import datetime

from ..domain.context import SchedulerContext
from ..domain.uow import utcnow

log = logging.getLogger(__name__)

# Never spin: even when something stays due, wait at least this long.
MIN_SLEEP = 0.05


class DeadlineTimer(ABC):
    """Subclasses implement `act`, `next_deadline` and `max_sleep`; `name` is for logs."""

    name = "timer"

    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    @property
    @abstractmethod
    def max_sleep(self) -> float:
        """The longest sleep (each timer has its own setting)."""

    @abstractmethod
    async def act(self) -> None:
        """Do the work that is due now."""

    @abstractmethod
    async def next_deadline(self) -> datetime | None:
        """When the next work is due (None: nothing is)."""

    async def run_once(self) -> float:
        """Do the due work; return how long to sleep until the next deadline."""
        await self.act()
        due = await self.next_deadline()
        if due is None:
            return self.max_sleep
        return min(self.max_sleep, max(MIN_SLEEP, (due - utcnow()).total_seconds()))

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                delay = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - logged; the next pass retries
                log.exception("%s pass failed", self.name)
                delay = self.max_sleep
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except TimeoutError:
                continue
