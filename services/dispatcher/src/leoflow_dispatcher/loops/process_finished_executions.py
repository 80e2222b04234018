"""Forget executions that finished more than the retention ago (and published all
they had to): a request redelivered within the retention still finds them."""

from __future__ import annotations

from ..supervisor import Supervisor


async def run_once(supervisor: Supervisor, *, retention: float) -> int:
    """One pass; returns how many executions it forgot."""
    forgotten = 0
    for execution in supervisor.executions():
        finished_at = execution.finished_at
        if finished_at is None or execution.alive or execution.outbox:
            continue
        if supervisor.now() - finished_at >= retention:
            await supervisor.forget(execution)
            forgotten += 1
    return forgotten
