"""A periodic job: `run_once()` every `interval` seconds (with jitter), or sooner
when woken. Exceptions are logged and the loop goes on; it never dies silently."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)


class PeriodicLoop:
    def __init__(self, name: str, run_once: Callable[[], Awaitable[Any]], *, interval: float, jitter: float = 0.1):
        self.name = name
        self._run_once = run_once
        self._interval = interval
        self._jitter = jitter
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Run again as soon as the current pass ends (event-driven fast path)."""
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - logged; the next pass retries
                log.exception("loop %s failed", self.name)
            delay = self._interval * (1 + random.uniform(-self._jitter, self._jitter))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, delay))
            except TimeoutError:
                pass
