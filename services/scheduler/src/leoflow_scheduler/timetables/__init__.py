"""Airflow 3's timetables, pure: when a DAG's next run is due and which dates it
carries (logical_date, data interval, run_after), given the last automated run,
the DAG's start/end dates, catchup and the current time.

Airflow 3's defaults are reproduced: a cron string or preset is a
CronTriggerTimetable (interval 0: data_interval_start == data_interval_end ==
logical_date == run_after, the cron tick), a timedelta a DeltaTriggerTimetable,
"@once" OnceTimetable, "@continuous" ContinuousTimetable, None NullTimetable
(`[scheduler] create_cron_data_intervals` / `create_delta_data_intervals` are
False by default in Airflow 3).
"""

from .base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from .build import iter_dagrun_infos_between, time_restriction, timetable_for
from .cron import CronTriggerTimetable
from .delta import DeltaTriggerTimetable
from .simple import ContinuousTimetable, NullTimetable, OnceTimetable

__all__ = [
    "ContinuousTimetable",
    "CronTriggerTimetable",
    "DagRunInfo",
    "DataInterval",
    "DeltaTriggerTimetable",
    "NullTimetable",
    "OnceTimetable",
    "TimeRestriction",
    "Timetable",
    "iter_dagrun_infos_between",
    "time_restriction",
    "timetable_for",
]
