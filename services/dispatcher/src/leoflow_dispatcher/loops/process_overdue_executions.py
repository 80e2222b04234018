"""Watchdog: stop executions that outlived their execution_timeout, went silent, or
never got going; stop processes that linger after their try ended."""

from __future__ import annotations

from ..lifecycle import lingers, overdue_failure
from ..supervisor import Supervisor


async def run_once(supervisor: Supervisor) -> int:
    """One pass; returns how many executions it stopped."""
    stopped = 0
    for execution in supervisor.executions():
        now = supervisor.now()
        failure = overdue_failure(execution, now, supervisor.limits)
        if failure is not None:
            await supervisor.fail(execution, failure, stop=True)
            stopped += 1
        elif lingers(execution, now, supervisor.limits) and not execution.stop_requested:
            await supervisor.stop_execution(execution)
            stopped += 1
    return stopped
