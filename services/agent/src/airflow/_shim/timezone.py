"""`airflow.sdk.timezone`: aware-datetime helpers (stdlib zoneinfo; pendulum datetimes work too).

Naive datetimes are read as UTC, Airflow's default `core.default_timezone`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

utc = dt.UTC
UTC = utc


def utcnow() -> dt.datetime:
    return dt.datetime.now(utc)


def datetime(*args: Any, **kwargs: Any) -> dt.datetime:
    """A datetime that is UTC unless `tzinfo` says otherwise."""
    kwargs.setdefault("tzinfo", utc)
    return dt.datetime(*args, **kwargs)


def is_localized(value: dt.datetime) -> bool:
    return value.tzinfo is not None and value.tzinfo.utcoffset(value) is not None


def is_naive(value: dt.datetime) -> bool:
    return not is_localized(value)


def make_aware(value: dt.datetime, timezone: dt.tzinfo | None = None) -> dt.datetime:
    if is_localized(value):
        raise ValueError(f"make_aware expects a naive datetime, got {value}")
    return value.replace(tzinfo=timezone or utc)


def make_naive(value: dt.datetime, timezone: dt.tzinfo | None = None) -> dt.datetime:
    if is_naive(value):
        raise ValueError("make_naive() cannot be applied to a naive datetime")
    return value.astimezone(timezone or utc).replace(tzinfo=None)


def convert_to_utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    if is_naive(value):
        value = value.replace(tzinfo=utc)
    return value.astimezone(utc)


coerce_datetime = convert_to_utc


def parse(string: str, timezone: dt.tzinfo | None = None) -> dt.datetime:
    """ISO 8601 text to an aware datetime (naive text is read in `timezone`, default UTC)."""
    value = dt.datetime.fromisoformat(string.replace("Z", "+00:00"))
    if is_naive(value):
        value = value.replace(tzinfo=timezone or utc)
    return value


def tz_name(tz: dt.tzinfo | None, sample: dt.datetime | None = None) -> str:
    """IANA-style name of a tzinfo: pendulum's `.name`, zoneinfo's `.key`, "UTC" or "+HH:MM"."""
    if tz is None:
        return "UTC"
    for attr in ("name", "key", "zone"):
        value = getattr(tz, attr, None)
        if isinstance(value, str) and value:
            return value
    offset = tz.utcoffset(sample or dt.datetime(2000, 1, 1))
    if offset is None or offset == dt.timedelta(0):
        return "UTC"
    sign = "-" if offset < dt.timedelta(0) else "+"
    minutes = abs(int(offset.total_seconds())) // 60
    return f"{sign}{minutes // 60:02d}:{minutes % 60:02d}"


def timezone(name: str) -> dt.tzinfo:
    return utc if name.upper() == "UTC" else ZoneInfo(name)
