"""Airflow 3.2's timetables as tables: each row is (timetable, last automated
run, restriction, now) -> the next run, and cites the Airflow behaviour it
reproduces (airflow/timetables/trigger.py, _cron.py, _delta.py, simple.py)."""

from datetime import UTC, datetime, timedelta

import pytest
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_scheduler.domain.backfills import backfill_run_id
from leoflow_scheduler.domain.scheduled_runs import scheduled_run_id
from leoflow_scheduler.timetables import (
    ContinuousTimetable,
    CronTriggerTimetable,
    DataInterval,
    DeltaTriggerTimetable,
    NullTimetable,
    OnceTimetable,
    TimeRestriction,
    iter_dagrun_infos_between,
    timetable_for,
)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


DAILY = CronTriggerTimetable("@daily", timezone="UTC")
NOW = utc(2024, 1, 10, 15, 0)
START = utc(2024, 1, 1)

# (why, timetable, last interval, restriction, now, expected run_after or None)
NEXT_RUN_TABLE = [
    ("catchup, first run: the first tick at or after start_date (_align_to_next(earliest))",
     DAILY, None, TimeRestriction(START, None, True), NOW, utc(2024, 1, 1)),
    ("catchup, start_date between ticks: aligned forward to the next tick",
     DAILY, None, TimeRestriction(utc(2024, 1, 1, 6), None, True), NOW, utc(2024, 1, 2)),
    ("catchup: the tick after the last automated run's data_interval_end (_get_next)",
     DAILY, DataInterval(utc(2024, 1, 3), utc(2024, 1, 3)), TimeRestriction(START, None, True), NOW, utc(2024, 1, 4)),
    ("no catchup (Airflow 3's default), first run: the latest tick at or before now (_align_to_prev(now))",
     DAILY, None, TimeRestriction(START, None, False), NOW, utc(2024, 1, 10)),
    ("no catchup, last run long ago: skip to the latest tick, missed ones are not run",
     DAILY, DataInterval(utc(2024, 1, 3), utc(2024, 1, 3)), TimeRestriction(START, None, False), NOW, utc(2024, 1, 10)),
    ("no catchup, last run is the latest tick: the next tick in the future",
     DAILY, DataInterval(utc(2024, 1, 10), utc(2024, 1, 10)), TimeRestriction(START, None, False), NOW, utc(2024, 1, 11)),
    ("no catchup, start_date in the future: its first tick (_align_to_next(earliest))",
     DAILY, None, TimeRestriction(utc(2024, 2, 1, 12), None, False), NOW, utc(2024, 2, 2)),
    ("end_date before the next tick: no more runs (restriction.latest < next_start_time)",
     DAILY, DataInterval(utc(2024, 1, 5), utc(2024, 1, 5)), TimeRestriction(START, utc(2024, 1, 5, 12), True), NOW, None),
    ("end_date on a tick: that tick still runs (latest is inclusive)",
     DAILY, DataInterval(utc(2024, 1, 4), utc(2024, 1, 4)), TimeRestriction(START, utc(2024, 1, 5), True), NOW, utc(2024, 1, 5)),
    ("no start_date, now just after a tick (within 10% of the gap, at least 5 min): that tick (_calc_first_run)",
     CronTriggerTimetable("0 * * * *", timezone="UTC"), None, TimeRestriction(None, None, True), utc(2024, 1, 10, 15, 4), utc(2024, 1, 10, 15)),
    ("no start_date, now well after a tick: the next tick (_calc_first_run)",
     CronTriggerTimetable("0 * * * *", timezone="UTC"), None, TimeRestriction(None, None, True), utc(2024, 1, 10, 15, 30), utc(2024, 1, 10, 16)),
    ("cron in the DAG's time zone: 02:00 Europe/Paris is 01:00 UTC in winter",
     CronTriggerTimetable("0 2 * * *", timezone="Europe/Paris"), None, TimeRestriction(START, None, True), NOW, utc(2024, 1, 1, 1)),
    ("DST spring forward: 02:30 America/New_York does not exist on 2024-03-10; it is read before the change (= 03:30 EDT, 07:30 UTC)",
     CronTriggerTimetable("30 2 * * *", timezone="America/New_York"), DataInterval(utc(2024, 3, 9, 7, 30), utc(2024, 3, 9, 7, 30)),
     TimeRestriction(START, None, True), utc(2024, 6, 1), utc(2024, 3, 10, 7, 30)),
    ("after DST: 02:30 EDT is 06:30 UTC",
     CronTriggerTimetable("30 2 * * *", timezone="America/New_York"), DataInterval(utc(2024, 3, 10, 7, 30), utc(2024, 3, 10, 7, 30)),
     TimeRestriction(START, None, True), utc(2024, 6, 1), utc(2024, 3, 11, 6, 30)),
    ("DST fall back, an hourly cron: the repeated hour runs too (Airflow's fold fix: wall-clock delta in absolute time)",
     CronTriggerTimetable("30 * * * *", timezone="Europe/Zurich"), DataInterval(utc(2023, 10, 29, 0, 30), utc(2023, 10, 29, 0, 30)),
     TimeRestriction(START, None, True), utc(2024, 6, 1), utc(2023, 10, 29, 1, 30)),
    ("timedelta schedule (DeltaTriggerTimetable), catchup: start_date, unaligned",
     DeltaTriggerTimetable(timedelta(hours=6)), None, TimeRestriction(utc(2024, 1, 1, 1, 15), None, True), NOW, utc(2024, 1, 1, 1, 15)),
    ("timedelta schedule: last run + delta",
     DeltaTriggerTimetable(timedelta(hours=6)), DataInterval(utc(2024, 1, 1, 1, 15), utc(2024, 1, 1, 1, 15)), TimeRestriction(START, None, True), NOW, utc(2024, 1, 1, 7, 15)),
    ("timedelta schedule, no catchup: now (_align_to_prev is identity for deltas)",
     DeltaTriggerTimetable(timedelta(hours=6)), DataInterval(utc(2024, 1, 1, 1, 15), utc(2024, 1, 1, 1, 15)), TimeRestriction(START, None, False), NOW, NOW),
    ("@once: at start_date, whatever catchup says",
     OnceTimetable(), None, TimeRestriction(START, None, False), NOW, START),
    ("@once: never again after its run",
     OnceTimetable(), DataInterval(START, START), TimeRestriction(START, None, False), NOW, None),
    ("@continuous: after the last run, from its end to now",
     ContinuousTimetable(), DataInterval(utc(2024, 1, 9), utc(2024, 1, 10)), TimeRestriction(START, None, False), NOW, NOW),
    ("schedule=None: never", NullTimetable(), None, TimeRestriction(START, None, True), NOW, None),
]  # fmt: skip


@pytest.mark.parametrize(("why", "timetable", "last", "restriction", "now", "expected"), NEXT_RUN_TABLE, ids=[r[0][:60] for r in NEXT_RUN_TABLE])
def test_next_run(why, timetable, last, restriction, now, expected):
    info = timetable.next_dagrun_info(last_automated_data_interval=last, restriction=restriction, now=now)
    assert (info.run_after if info else None) == expected, why


def test_trigger_timetables_run_at_the_tick_with_an_empty_interval():
    # Airflow 3 (create_cron_data_intervals=False): logical_date == run_after ==
    # data_interval_start == data_interval_end == the tick.
    info = DAILY.next_dagrun_info(last_automated_data_interval=None, restriction=TimeRestriction(START, None, True), now=NOW)
    assert info.logical_date == info.run_after == info.data_interval.start == info.data_interval.end == START
    assert DAILY.infer_manual_data_interval(run_after=NOW) == DataInterval(NOW, NOW)


def test_catchup_sequence_and_run_ids():
    # What the scheduler creates for @daily, start 3 days back, catchup=True.
    infos = list(iter_dagrun_infos_between(DAILY, utc(2024, 1, 7), utc(2024, 1, 10), now=NOW))
    assert [i.logical_date for i in infos] == [utc(2024, 1, d) for d in (7, 8, 9, 10)]
    # Airflow: run_type.generate_run_id(suffix=run_after.isoformat()).
    assert scheduled_run_id(infos[0].run_after) == "scheduled__2024-01-07T00:00:00+00:00"
    assert backfill_run_id(infos[0].run_after) == "backfill__2024-01-07T00:00:00+00:00"


@pytest.mark.parametrize(
    ("schedule", "timezone", "kind", "summary"),
    [
        (dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_CRON, expression="@daily"), "UTC", CronTriggerTimetable, "0 0 * * *"),
        (dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_CRON, expression="@midnight"), "UTC", CronTriggerTimetable, "@midnight"),
        (dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_ONCE), "UTC", OnceTimetable, "@once"),
        (dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_CONTINUOUS), "UTC", ContinuousTimetable, "@continuous"),
        (dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_NONE), "UTC", NullTimetable, "None"),
    ],
)
def test_timetable_for_a_spec(schedule, timezone, kind, summary):
    spec = dag_pb2.DagSpec(dag_id="d", schedule=schedule, timezone=timezone)
    timetable = timetable_for(spec)
    assert isinstance(timetable, kind) and timetable.summary == summary


def test_interval_spec_is_a_delta_trigger_timetable():
    spec = dag_pb2.DagSpec(dag_id="d", schedule=dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_INTERVAL))
    spec.schedule.interval.seconds = 3600
    assert isinstance(timetable_for(spec), DeltaTriggerTimetable) and timetable_for(spec).summary == "1:00:00"
