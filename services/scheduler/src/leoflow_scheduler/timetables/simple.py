"""Timetables without arithmetic: None, "@once", "@continuous"
(Airflow's timetables/simple.py)."""

from __future__ import annotations

from datetime import datetime

from .base import DagRunInfo, DataInterval, TimeRestriction


class _Trivial:
    periodic = False
    can_be_scheduled = True
    active_runs_limit: int | None = None
    summary = ""
    description = ""

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return DataInterval.exact(run_after)


class NullTimetable(_Trivial):
    """schedule=None: runs only when triggered."""

    can_be_scheduled = False
    summary = "None"
    description = "Never, external triggers only"

    def next_dagrun_info(self, *, last_automated_data_interval, restriction, now) -> None:
        return None


class OnceTimetable(_Trivial):
    """"@once": one run at start_date (or at once when there is none), whatever catchup says."""

    summary = "@once"
    description = "Once, as soon as possible"

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime,
    ) -> DagRunInfo | None:
        if last_automated_data_interval is not None:
            return None  # already ran
        run_after = restriction.earliest or now
        if restriction.latest is not None and run_after > restriction.latest:
            return None
        return DagRunInfo.exact(run_after)


class ContinuousTimetable(_Trivial):
    """"@continuous": a new run as soon as the previous one ends, one at a time."""

    periodic = True
    active_runs_limit = 1
    summary = "@continuous"
    description = "As frequently as possible, but only one run at a time."

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime,
    ) -> DagRunInfo | None:
        start_date = restriction.earliest or now
        if last_automated_data_interval is not None:
            if last_automated_data_interval.end > now:  # start_date is in the future
                elapsed = last_automated_data_interval.end - last_automated_data_interval.start
                start, end = start_date, start_date + elapsed
            else:
                start, end = last_automated_data_interval.end, now
        else:
            start, end = start_date, max(start_date, now)
        if restriction.latest is not None and end > restriction.latest:
            return None
        return DagRunInfo.interval(start, end)
