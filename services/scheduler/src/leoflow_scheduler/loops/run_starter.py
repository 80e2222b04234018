"""process_queued_runs: start queued runs within max_active_runs (see
domain.run_starter). Woken on trigger, unpause, clear and run completion."""

from __future__ import annotations

from ..domain.context import SchedulerContext
from ..domain.run_starter import start_queued_runs

BATCH = 100


class RunStarter:
    """Starts queued runs (see the module docstring)."""

    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx

    async def run_once(self) -> int:
        """Start what can start; keep going while whole batches were started."""
        total = 0
        while True:
            started = await start_queued_runs(self._ctx, batch=BATCH)
            total += started
            if started < BATCH:
                return total
