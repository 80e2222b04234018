"""How many executions this replica runs at once.

A dispatch waits for a free slot before it starts its execution, so a replica at
capacity holds its unacknowledged requests (and the broker sends new ones to
other replicas). Adopted executions take a slot without waiting: they already run.
"""

from __future__ import annotations

import asyncio

from .metrics import EXECUTIONS_RUNNING


class Capacity:
    def __init__(self, limit: int):
        self.limit = limit
        self._holders: set[str] = set()
        self._changed = asyncio.Condition()

    @property
    def in_use(self) -> int:
        return len(self._holders)

    async def acquire(self, name: str) -> None:
        """Wait for a free slot and give it to `name`."""
        async with self._changed:
            await self._changed.wait_for(lambda: len(self._holders) < self.limit)
            self._holders.add(name)
            EXECUTIONS_RUNNING.set(len(self._holders))

    def take(self, name: str) -> None:
        """Give `name` a slot now, over the limit if need be."""
        self._holders.add(name)
        EXECUTIONS_RUNNING.set(len(self._holders))

    async def release(self, name: str) -> None:
        """Free `name`'s slot (no-op if it holds none)."""
        if name in self._holders:
            async with self._changed:
                self._holders.discard(name)
                EXECUTIONS_RUNNING.set(len(self._holders))
                self._changed.notify_all()
