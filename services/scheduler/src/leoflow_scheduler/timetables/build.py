"""A DagSpec's timetable and time restriction, and the run infos of a date
range (what backfills and catchup walk)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from leoflow_proto.dag.v1 import dag_pb2

from ..dagspec.schedule import parse_schedule
from .base import DagRunInfo, TimeRestriction, Timetable
from .cron import CronTriggerTimetable
from .delta import DeltaTriggerTimetable
from .simple import ContinuousTimetable, NullTimetable, OnceTimetable

# Safety net for a range walk: a per-minute cron over two years is ~1M runs.
MAX_INFOS = 100_000


def timetable_for(spec: dag_pb2.DagSpec) -> Timetable:
    """The timetable Airflow 3 builds for the DAG's schedule (spec already validated)."""
    parsed = parse_schedule(spec.schedule)
    if parsed.kind == dag_pb2.SCHEDULE_KIND_NONE:
        return NullTimetable()
    if parsed.kind == dag_pb2.SCHEDULE_KIND_ONCE:
        return OnceTimetable()
    if parsed.kind == dag_pb2.SCHEDULE_KIND_CONTINUOUS:
        return ContinuousTimetable()
    if parsed.kind == dag_pb2.SCHEDULE_KIND_INTERVAL:
        assert parsed.interval is not None
        return DeltaTriggerTimetable(parsed.interval)
    return CronTriggerTimetable(spec.schedule.expression.strip(), timezone=spec.timezone or "UTC")


def _ts(spec: dag_pb2.DagSpec, name: str) -> datetime | None:
    return getattr(spec, name).ToDatetime(tzinfo=UTC) if spec.HasField(name) else None


def time_restriction(spec: dag_pb2.DagSpec) -> TimeRestriction:
    """start_date / end_date / catchup of the DAG (Airflow's DAG._time_restriction)."""
    return TimeRestriction(_ts(spec, "start_date"), _ts(spec, "end_date"), spec.catchup)


def iter_dagrun_infos_between(
    timetable: Timetable, earliest: datetime, latest: datetime, *, now: datetime
) -> Iterator[DagRunInfo]:
    """Every run the timetable has with a logical date in [earliest, latest], in
    order (Airflow's iter_dagrun_infos_between: catchup on, DAG dates ignored)."""
    restriction = TimeRestriction(earliest, latest, catchup=True)
    info: DagRunInfo | None = None
    for _ in range(MAX_INFOS):
        previous = info
        info = timetable.next_dagrun_info(
            last_automated_data_interval=info.data_interval if info else None,
            restriction=restriction,
            now=now,
        )
        # A timetable that stops advancing (@continuous catching up with now) is done.
        if info is None or (previous is not None and info.run_after <= previous.run_after):
            return
        yield info
    raise ValueError(f"the range holds more than {MAX_INFOS} runs")
