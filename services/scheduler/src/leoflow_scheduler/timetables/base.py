"""The timetable protocol and its value types (Airflow's timetables/base.py).

Every datetime here is aware and in UTC; `now` is passed in rather than read,
so every decision is a pure function of its inputs.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple, Protocol


class DataInterval(NamedTuple):
    """The data interval a run covers (both ends aware)."""

    start: datetime
    end: datetime

    @classmethod
    def exact(cls, at: datetime) -> DataInterval:
        return cls(at, at)


class TimeRestriction(NamedTuple):
    """When runs may happen: not before `earliest` nor after `latest` (both
    inclusive, None = open); without catchup, missed ticks are not run."""

    earliest: datetime | None
    latest: datetime | None
    catchup: bool


class DagRunInfo(NamedTuple):
    """What the next automated run carries (Airflow's DagRunInfo)."""

    run_after: datetime
    data_interval: DataInterval

    @classmethod
    def exact(cls, at: datetime) -> DagRunInfo:
        return cls(at, DataInterval.exact(at))

    @classmethod
    def interval(cls, start: datetime, end: datetime) -> DagRunInfo:
        """A run over [start, end], due when the interval ends."""
        return cls(end, DataInterval(start, end))

    @property
    def logical_date(self) -> datetime:
        """Airflow: the logical date is the start of the data interval."""
        return self.data_interval.start


class Timetable(Protocol):
    """When a DAG's automated runs happen."""

    summary: str
    description: str
    #: False for None and @once (not periodic).
    periodic: bool
    #: False for schedule=None: nothing is ever created automatically.
    can_be_scheduled: bool
    #: A cap on max_active_runs (1 for @continuous), else None.
    active_runs_limit: int | None

    def next_dagrun_info(
        self,
        *,
        last_automated_data_interval: DataInterval | None,
        restriction: TimeRestriction,
        now: datetime,
    ) -> DagRunInfo | None:
        """The next automated run after the last one, or None for no more."""
        ...

    def infer_manual_data_interval(self, *, run_after: datetime) -> DataInterval:
        """The data interval of a manual run with this logical date."""
        ...
