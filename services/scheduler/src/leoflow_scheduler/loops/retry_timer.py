"""process_retries: start the next try of task instances whose retry delay has
passed. The timer sleeps until the earliest next_retry_at (capped), and is woken
whenever a task instance goes up for retry, so it neither polls every task nor
misses a due retry."""

from __future__ import annotations

from ..domain.retries import next_retry_due, queue_due_retries
from .deadline_timer import DeadlineTimer


class RetryTimer(DeadlineTimer):
    """Sleeps until the next retry is due (see the module docstring)."""

    name = "RetryTimer"

    @property
    def max_sleep(self) -> float:
        return self._ctx.settings.retry_timer_max_sleep

    async def act(self) -> None:
        await queue_due_retries(self._ctx)

    async def next_deadline(self):
        return await next_retry_due(self._ctx)
