"""Check a DAG's `schedule` the way Airflow would refuse it, before anything is recorded.

Accepted: None, "@once", "@continuous", a cron preset, a 5-field cron expression, or a
timedelta. Cron syntax is checked field by field (values, ranges, steps, names), so a
typo fails at compile time with the offending field named, not at the first run.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

CRON_PRESETS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@quarterly": "0 0 1 */3 *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
SPECIAL_SCHEDULES = ("@once", "@continuous")

_MONTHS = {m: i for i, m in enumerate(
    ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"], start=1)}
_DAYS = {d: i for i, d in enumerate(["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"])}
# (name, lowest, highest, names)
_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day of month", 1, 31, {}),
    ("month", 1, 12, _MONTHS),
    ("day of week", 0, 7, _DAYS),
)
_ITEM_RE = re.compile(r"^(?P<range>\*|\?|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:/(?P<step>\d+))?$")


def validate_schedule(schedule: Any) -> None:
    """Raise ValueError naming what is wrong with `schedule`; return None when it is valid."""
    if schedule is None or isinstance(schedule, timedelta):
        if isinstance(schedule, timedelta) and schedule <= timedelta(0):
            raise ValueError(f"Invalid schedule {schedule!r}: the interval must be positive")
        return
    if not isinstance(schedule, str):
        raise ValueError(
            f"Invalid schedule {schedule!r}: Leoflow supports None, a cron expression or preset, "
            "'@once', '@continuous' or a timedelta (timetables and assets are not supported yet)"
        )
    if schedule in SPECIAL_SCHEDULES or schedule in CRON_PRESETS:
        return
    if schedule.startswith("@"):
        raise ValueError(
            f"Invalid schedule '{schedule}': unknown preset "
            f"(known: {', '.join([*SPECIAL_SCHEDULES, *CRON_PRESETS])})"
        )
    validate_cron(schedule)


def validate_cron(expression: str) -> None:
    """Raise ValueError unless `expression` is a valid 5-field cron expression."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(
            f"Invalid cron expression '{expression}': expected 5 fields "
            f"(minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    for text, (name, low, high, names) in zip(fields, _FIELDS, strict=True):
        for item in text.split(","):
            problem = _item_problem(item, name, low, high, names)
            if problem:
                raise ValueError(f"Invalid cron expression '{expression}': {problem}")


def _item_problem(item: str, name: str, low: int, high: int, names: dict[str, int]) -> str | None:
    if name == "day of week" and re.fullmatch(r"[0-7]#[1-5]|[0-7]?L", item, re.IGNORECASE):
        return None
    if name == "day of month" and item.upper() in {"L", "LW"}:
        return None
    match = _ITEM_RE.match(item)
    if not match:
        return f"{name} field '{item}' is malformed"
    if match["step"] is not None and int(match["step"]) == 0:
        return f"{name} field '{item}' has a zero step"
    part = match["range"]
    if part in {"*", "?"}:
        return None
    bounds = part.split("-")
    values = []
    for bound in bounds:
        value = _value(bound, names)
        if value is None or not low <= value <= high:
            return f"{name} value '{bound}' is out of range {low}-{high}"
        values.append(value)
    if len(values) == 2 and values[0] > values[1]:
        return f"{name} range '{part}' runs backwards"
    return None


def _value(text: str, names: dict[str, int]) -> int | None:
    if text.isdigit():
        return int(text)
    return names.get(text.upper())
