"""Publish the state changes the bus refused earlier (in order, per execution)."""

from __future__ import annotations

from ..supervisor import Supervisor


async def run_once(supervisor: Supervisor) -> int:
    """One pass; returns how many executions still have something to publish."""
    pending = 0
    for execution in supervisor.executions():
        if execution.outbox and not await supervisor.flush_quietly(execution):
            pending += 1
    return pending
