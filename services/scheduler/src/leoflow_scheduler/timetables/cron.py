"""CronTriggerTimetable: a run at each tick of a cron expression evaluated in
the DAG's time zone (Airflow 3's default for a cron string or preset).

Ticks are computed on the wall clock of the DAG's zone and returned in UTC.
DST, as Airflow's CronMixin: a wall-clock time that does not exist (spring
forward) is read with the offset before the change, i.e. shifted forward; an
ambiguous one (fall back) is its first occurrence; and a cron that fires at
least hourly (hour field "*") steps by the wall-clock distance in absolute time,
so the repeated hour is run too and no tick is skipped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter

from ..dagspec.schedule import CRON_PRESETS, describe_cron
from .trigger import TriggerTimetable


def _covers_every_hour(cron: croniter) -> bool:
    return cron.expanded[1] == ["*"]


class CronTriggerTimetable(TriggerTimetable):
    """schedule="<cron>" or a preset, in the DAG's `timezone` (an IANA name)."""

    def __init__(self, cron: str, *, timezone: str = "UTC"):
        self._expression = CRON_PRESETS.get(cron, cron)
        self._tz = ZoneInfo(timezone)
        # Validates now, so a bad expression fails at construction.
        self._every_hour = _covers_every_hour(croniter(self._expression))
        self.summary = self._expression
        self.description = describe_cron(cron)

    def _naive(self, current: datetime) -> datetime:
        return current.astimezone(self._tz).replace(tzinfo=None)

    def _utc(self, naive: datetime) -> datetime:
        # fold=0: a skipped time takes the offset before the change (so it lands
        # after the gap), an ambiguous one its first occurrence.
        return naive.replace(tzinfo=self._tz).astimezone(UTC)

    def _step(self, current: datetime, forward: bool) -> datetime:
        naive = self._naive(current)
        cron = croniter(self._expression, start_time=naive)
        scheduled = cron.get_next(datetime) if forward else cron.get_prev(datetime)
        if not self._every_hour:
            return self._utc(scheduled)
        # Step by the wall-clock distance in absolute time (Airflow's fold-hour fix).
        delta: timedelta = scheduled - naive
        return current.astimezone(UTC) + delta

    def _get_next(self, current: datetime) -> datetime:
        return self._step(current, forward=True)

    def _get_prev(self, current: datetime) -> datetime:
        return self._step(current, forward=False)

    def _align_to_next(self, current: datetime) -> datetime:
        """`current` if it is a tick, else the next tick."""
        next_time = self._get_next(current)
        return next_time if self._get_prev(next_time) != current else current

    def _align_to_prev(self, current: datetime) -> datetime:
        """`current` if it is a tick, else the previous tick."""
        prev_time = self._get_prev(current)
        return prev_time if self._get_next(prev_time) != current else current

    def _calc_first_run(self, now: datetime) -> datetime:
        """Without a start_date: the latest past tick if it was at most 10% of the
        gap between ticks (at least 5 minutes) ago, else the next tick (Airflow's
        run_immediately=False, which falls through to that buffer)."""
        past, nxt = self._align_to_prev(now), self._align_to_next(now)
        buffer = max((nxt - past) / 10, timedelta(minutes=5))
        return past if now - past <= buffer else nxt
