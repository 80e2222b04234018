"""A DAG's schedule as Airflow understands it: cron expressions and presets,
None, @once, @continuous and fixed intervals, with Airflow's timetable summary
and description strings for the UI.

Airflow 3.2's summary of a cron timetable is its expression with the preset
expanded ("@daily" -> "0 0 * * *"); croniter's own keywords (@midnight,
@annually), which Airflow passes through unexpanded, are accepted too."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from croniter import croniter
from leoflow_proto.dag.v1 import dag_pb2

# Airflow's cron presets (airflow.utils.dates.cron_presets).
CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
}
# Keywords croniter understands itself (Airflow hands them to croniter as they are).
CRONITER_KEYWORDS = frozenset({"@midnight", "@annually"})
# What Airflow's UI shows for the presets (cron-descriptor's wording).
_PRESET_DESCRIPTIONS = {
    "@hourly": "At 0 minutes past the hour",
    "@daily": "At 00:00",
    "@weekly": "At 00:00, only on Sunday",
    "@monthly": "At 00:00, on day 1 of the month",
    "@quarterly": "At 00:00, on day 1 of the month, every 3 months",
    "@yearly": "At 00:00, on day 1 of the month, only in January",
    "@midnight": "At 00:00",
    "@annually": "At 00:00, on day 1 of the month, only in January",
}


def describe_cron(expression: str) -> str:
    """The UI's description of a cron schedule: known for presets, else empty."""
    return _PRESET_DESCRIPTIONS.get(expression, "")


class ScheduleError(ValueError):
    """The schedule is not one Airflow would accept; `field` names the culprit."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class ParsedSchedule:
    """A schedule as Airflow understands it, with the UI's summary and description."""

    kind: int  # dag_pb2.ScheduleKind
    summary: str
    description: str
    # The five-field cron expression for cron schedules (presets expanded).
    cron: str | None = None
    interval: timedelta | None = None


def parse_schedule(schedule: dag_pb2.Schedule) -> ParsedSchedule:
    """Interpret an authored schedule; ScheduleError if it is invalid."""
    expression = schedule.expression.strip()
    kind = schedule.kind
    if kind == dag_pb2.SCHEDULE_KIND_UNSPECIFIED:
        kind = _kind_of_expression(expression)
    if kind == dag_pb2.SCHEDULE_KIND_NONE:
        return ParsedSchedule(kind, "None", "Never, external triggers only")
    if kind == dag_pb2.SCHEDULE_KIND_ONCE:
        return ParsedSchedule(kind, "@once", "Once, as soon as possible")
    if kind == dag_pb2.SCHEDULE_KIND_CONTINUOUS:
        return ParsedSchedule(
            kind, "@continuous", "As frequently as possible, but only one run at a time."
        )
    if kind == dag_pb2.SCHEDULE_KIND_INTERVAL:
        try:
            interval = schedule.interval.ToTimedelta()
        except (ValueError, OverflowError) as exc:
            raise ScheduleError(
                "the schedule interval is not a valid duration", "schedule.interval"
            ) from exc
        if interval <= timedelta(0):
            raise ScheduleError(
                "an interval schedule needs a positive interval", "schedule.interval"
            )
        return ParsedSchedule(kind, str(interval), "", interval=interval)
    if kind == dag_pb2.SCHEDULE_KIND_CRON:
        if expression in ("@once", "@continuous"):
            return parse_schedule(dag_pb2.Schedule(expression=expression))
        cron = CRON_PRESETS.get(expression, expression)
        if not expression:
            raise ScheduleError("a cron schedule needs an expression", "schedule.expression")
        if expression.startswith("@") and expression not in CRON_PRESETS and expression not in CRONITER_KEYWORDS:
            raise ScheduleError(
                f"unknown schedule preset {expression!r}; expected one of "
                + ", ".join([*CRON_PRESETS, *sorted(CRONITER_KEYWORDS), "@once", "@continuous"]),
                "schedule.expression",
            )
        if not croniter.is_valid(cron):
            raise ScheduleError(f"invalid cron expression {expression!r}", "schedule.expression")
        return ParsedSchedule(kind, cron, describe_cron(expression), cron=cron)
    raise ScheduleError(f"unknown schedule kind {kind}", "schedule.kind")


def _kind_of_expression(expression: str) -> int:
    if not expression or expression == "None":
        return dag_pb2.SCHEDULE_KIND_NONE
    if expression == "@once":
        return dag_pb2.SCHEDULE_KIND_ONCE
    if expression == "@continuous":
        return dag_pb2.SCHEDULE_KIND_CONTINUOUS
    return dag_pb2.SCHEDULE_KIND_CRON
