"""process_schedule: create the runs the timetables ask for. The timer sleeps
until the earliest next_dagrun_run_after of a schedulable DAG (capped), and is
woken on registration, unpause and the end of any run (a max_active_runs slot
may have freed), so it never polls every DAG."""

from __future__ import annotations

from ..domain.scheduled_runs import create_due_runs, next_due
from .deadline_timer import DeadlineTimer

BATCH = 100


class ScheduleTimer(DeadlineTimer):
    """Sleeps until the next scheduled run is due (see the module docstring)."""

    name = "ScheduleTimer"

    @property
    def max_sleep(self) -> float:
        return self._ctx.settings.schedule_timer_max_sleep

    async def act(self) -> None:
        while await create_due_runs(self._ctx, batch=BATCH) >= BATCH:
            continue  # a full batch: more may be due

    async def next_deadline(self):
        return await next_due(self._ctx)
