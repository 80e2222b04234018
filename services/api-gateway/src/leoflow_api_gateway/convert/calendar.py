"""A DAG's runs -> the calendar view's cells (Airflow's services/ui/calendar.py).

Runs are counted per (day or hour of their logical date, state), oldest first. A
DAG whose schedule repeats (cron or interval) also gets "planned" cells: the
schedule's next dates after the last shown run's data interval, up to the end of
that year (at most MAX_PLANNED_RUNS), within the asked range. Runs without a
logical date (manual runs triggered without one) have no place on a calendar.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from croniter import croniter
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.scheduler.v1 import models_pb2

from ..datamodels.ui.calendar import CalendarTimeRangeResponse
from .common import ts
from .dag_run import run_state

Granularity = Literal["hourly", "daily"]
MAX_PLANNED_RUNS = 2000

# Airflow's cron presets, as the compiler keeps them in the schedule's expression.
_CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}


@dataclass(frozen=True, slots=True)
class DateRange:
    """The asked logical-date range; None bounds are open."""

    gte: datetime | None = None
    lte: datetime | None = None

    def contains(self, value: datetime) -> bool:
        return (self.gte is None or value >= self.gte) and (self.lte is None or value <= self.lte)


def truncate(value: datetime, granularity: Granularity) -> datetime:
    if granularity == "hourly":
        return value.replace(minute=0, second=0, microsecond=0)
    return value.replace(hour=0, minute=0, second=0, microsecond=0)


def historical_cells(runs: Iterable[models_pb2.DagRun], granularity: Granularity) -> list[CalendarTimeRangeResponse]:
    counts: Counter[tuple[datetime, str]] = Counter()
    for run in runs:
        logical = ts(run, "logical_date")
        if logical is not None:
            counts[(truncate(logical, granularity), run_state(run.state))] += 1
    return [
        CalendarTimeRangeResponse(date=date, state=state, count=count)
        for (date, state), count in sorted(counts.items(), key=lambda item: item[0])
    ]


def last_data_interval(runs: Iterable[models_pb2.DagRun], granularity: Granularity) -> tuple[datetime, datetime] | None:
    """The data interval Airflow plans from: the latest bounds among the runs of the
    last calendar cell; None when those runs have no data interval."""
    dated = [(truncate(logical, granularity), run) for run in runs if (logical := ts(run, "logical_date"))]
    if not dated:
        return None
    last_cell = max(cell for cell, _ in dated)
    starts = [s for cell, run in dated if cell == last_cell and (s := ts(run, "data_interval_start"))]
    ends = [e for cell, run in dated if cell == last_cell and (e := ts(run, "data_interval_end"))]
    if not starts or not ends:
        return None
    return max(starts), max(ends)


def _planned_dates(spec: dag_pb2.DagSpec, interval_end: datetime) -> Iterable[datetime]:
    schedule = spec.schedule
    kind = schedule.kind
    expression = schedule.expression.strip()
    if kind == dag_pb2.SCHEDULE_KIND_INTERVAL and schedule.HasField("interval"):
        step = schedule.interval.ToTimedelta()
        if step <= timedelta(0):
            return iter(())
        # A fixed-interval timetable's next run starts where the last one ended.
        return (interval_end + step * n for n in itertools.count())
    if kind == dag_pb2.SCHEDULE_KIND_CRON or (kind == dag_pb2.SCHEDULE_KIND_UNSPECIFIED and expression and expression not in ("None", "@once", "@continuous")):
        cron = _CRON_PRESETS.get(expression, expression)
        if not croniter.is_valid(cron):
            return iter(())
        return croniter(cron, interval_end, ret_type=datetime)
    return iter(())  # None, @once, @continuous: nothing repeats


def planned_cells(
    spec: dag_pb2.DagSpec,
    last_interval: tuple[datetime, datetime] | None,
    asked: DateRange,
    granularity: Granularity,
) -> list[CalendarTimeRangeResponse]:
    if last_interval is None:
        return []
    interval_end = last_interval[1].astimezone(UTC)
    year = interval_end.year
    end_date = ts(spec, "end_date")
    counts: Counter[datetime] = Counter()
    for date in itertools.islice(_planned_dates(spec, interval_end), MAX_PLANNED_RUNS):
        date = date.astimezone(UTC)
        if date.year != year or (end_date is not None and date > end_date):
            break
        if asked.contains(date):
            counts[truncate(date, granularity)] += 1
    return [CalendarTimeRangeResponse(date=date, state="planned", count=count) for date, count in counts.items()]
