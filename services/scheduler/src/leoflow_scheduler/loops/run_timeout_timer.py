"""fail_timed_out_runs: fail the running runs whose dagrun_timeout has passed. The
timer sleeps until the earliest deadline (capped), and is woken whenever a run
changes state or a DAG is unpaused (WAKE_RUNS: a run that starts brings its
deadline), so it neither polls every run nor misses a deadline."""

from __future__ import annotations

from ..domain.run_timeouts import fail_timed_out_runs, next_timeout_due
from .deadline_timer import DeadlineTimer


class RunTimeoutTimer(DeadlineTimer):
    """Sleeps until the next run times out (see the module docstring)."""

    name = "RunTimeoutTimer"

    @property
    def max_sleep(self) -> float:
        return self._ctx.settings.retry_timer_max_sleep

    async def act(self) -> None:
        await fail_timed_out_runs(self._ctx)

    async def next_deadline(self):
        return await next_timeout_due(self._ctx)
