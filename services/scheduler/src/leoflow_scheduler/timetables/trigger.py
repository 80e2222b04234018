"""The trigger timetables' shared rule (Airflow's _TriggerTimetable): a run is
due at each tick; its data interval is [tick - interval, tick] (interval 0 by
default, so logical_date == run_after == the tick).

- catchup: the tick after the last automated run's, or the first tick at or
  after start_date (or, without a start_date, the latest past tick if it is
  recent, else the next one);
- no catchup: the latest of the most recent tick at or before now, the tick
  after the last automated run's, and the first tick at or after start_date;
- never a tick after end_date.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from .base import DagRunInfo, DataInterval, TimeRestriction


class TriggerTimetable:
    """Subclasses give the tick arithmetic (`_get_next`, `_get_prev`, `_align_*`)."""

    periodic = True
    can_be_scheduled = True
    active_runs_limit: int | None = None
    _interval: timedelta = timedelta(0)

    def _get_next(self, current: datetime) -> datetime:
        raise NotImplementedError

    def _get_prev(self, current: datetime) -> datetime:
        raise NotImplementedError

    def _align_to_next(self, current: datetime) -> datetime:
        raise NotImplementedError

    def _align_to_prev(self, current: datetime) -> datetime:
        raise NotImplementedError

    def _calc_first_run(self, now: datetime) -> datetime:
        raise NotImplementedError

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        return DataInterval(run_after - self._interval, run_after)

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime,
    ) -> DagRunInfo | None:
        if restriction.catchup:
            if last_automated_data_interval is not None:
                next_start = self._get_next(last_automated_data_interval.end)
            elif restriction.earliest is None:
                next_start = self._calc_first_run(now)
            else:
                next_start = self._align_to_next(restriction.earliest)
        else:
            candidates = [self._align_to_prev(now)]
            if last_automated_data_interval is not None:
                candidates.append(self._get_next(last_automated_data_interval.end))
            elif restriction.earliest is None:
                candidates.append(self._calc_first_run(now))
            if restriction.earliest is not None:
                candidates.append(self._align_to_next(restriction.earliest))
            next_start = max(candidates)
        if restriction.latest is not None and restriction.latest < next_start:
            return None
        return DagRunInfo.interval(next_start - self._interval, next_start)
