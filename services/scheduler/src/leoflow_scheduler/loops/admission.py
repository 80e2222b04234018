"""process_scheduled: queue task instances held in `scheduled` by a pool or a
concurrency limit as soon as a slot frees. Woken whenever an execution ends or
a pool grows (and when a transaction could not take a limit's lock), it
re-evaluates each running run that has held task instances, highest priority
and oldest first; the evaluation queues what the limits now allow."""

from __future__ import annotations

from ..domain.admission_pass import queue_held


class Admission:
    """Queues held task instances (see the module docstring)."""

    def __init__(self, ctx):
        self._ctx = ctx

    async def run_once(self) -> int:
        return await queue_held(self._ctx)
