"""process_backfills: mark backfills complete once none of their runs is queued
or running (Airflow's _mark_backfills_complete). Woken whenever a run ends."""

from __future__ import annotations

from ..domain.backfills import complete_finished_backfills


class BackfillCompletion:
    """Completes finished backfills."""

    def __init__(self, ctx):
        self._ctx = ctx

    async def run_once(self) -> int:
        return await complete_finished_backfills(self._ctx)
