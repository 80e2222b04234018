"""Field-level conversions shared by the resource translators."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from google.protobuf import json_format
from google.protobuf.message import Message
from google.protobuf.timestamp_pb2 import Timestamp
from leoflow_common.errors import Internal


def ts(message: Message, field: str) -> datetime | None:
    """A Timestamp field as an aware UTC datetime, None when unset."""
    if not message.HasField(field):
        return None
    return getattr(message, field).ToDatetime(tzinfo=UTC)


def required_ts(message: Message, field: str) -> datetime:
    """A Timestamp field Airflow's schema requires: a service that leaves it unset broke the contract."""
    value = ts(message, field)
    if value is None:
        raise Internal(f"{message.DESCRIPTOR.name}.{field} is unset")
    return value


def duration(message: Message, field: str) -> timedelta | None:
    if not message.HasField(field):
        return None
    return getattr(message, field).ToTimedelta()


def text(value: str) -> str | None:
    """proto3 strings cannot be null: empty means "none" in Airflow's nullable fields."""
    return value or None


def seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return (end - start).total_seconds()


def json_value(value: Any) -> Any:
    """protobuf's Struct carries every number as a double: give integral ones back as
    integers, as the user wrote them (conf {"n": 1} must not come back as 1.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return value


def struct(message: Message, field: str) -> dict[str, Any] | None:
    """A google.protobuf.Struct field as a JSON object, None when unset."""
    if not message.HasField(field):
        return None
    return json_value(json_format.MessageToDict(getattr(message, field)))


def proto_value(value: Message) -> Any:
    """A google.protobuf.Value as plain JSON."""
    return json_value(json_format.MessageToDict(value))


def to_timestamp(value: datetime) -> Timestamp:
    """An aware (or naive = UTC) datetime as a google.protobuf.Timestamp."""
    stamp = Timestamp()
    stamp.FromDatetime(value if value.tzinfo else value.replace(tzinfo=UTC))
    return stamp
