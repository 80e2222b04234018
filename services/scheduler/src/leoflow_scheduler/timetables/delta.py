"""DeltaTriggerTimetable: a run every `delta` (a timedelta schedule, Airflow 3's
default for one). Ticks are not aligned to anything: the first is start_date
(or now), then every delta after the previous tick, in absolute time."""

from __future__ import annotations

from datetime import datetime, timedelta

from .trigger import TriggerTimetable


class DeltaTriggerTimetable(TriggerTimetable):
    """schedule=timedelta(...)."""

    description = ""

    def __init__(self, delta: timedelta):
        if delta <= timedelta(0):
            raise ValueError(f"schedule interval must be positive, not {delta!r}")
        self._delta = delta
        self.summary = str(delta)

    def _get_next(self, current: datetime) -> datetime:
        return current + self._delta

    def _get_prev(self, current: datetime) -> datetime:
        return current - self._delta

    def _align_to_next(self, current: datetime) -> datetime:
        return current

    def _align_to_prev(self, current: datetime) -> datetime:
        return current

    def _calc_first_run(self, now: datetime) -> datetime:
        return self._align_to_prev(now)
