"""LogRecord -> Airflow's StructuredLogMessage (a JSON object per log line)."""

from __future__ import annotations

from typing import Any

from leoflow_proto.logs.v1 import logs_pb2

from .common import ts

# Keys the record sets itself; a user-supplied field never overrides them.
_RESERVED = frozenset({"timestamp", "event", "level", "logger", "chan"})


def log_message(record: logs_pb2.LogRecord) -> dict[str, Any]:
    """{timestamp?, event, level, logger?, chan?, ...fields}: the keys the UI renders
    (level as a badge, logger as source=, chan for stdout/stderr, others key=value)."""
    message: dict[str, Any] = {}
    stamp = ts(record, "timestamp")
    if stamp is not None:
        # Airflow's schema has timestamp optional but never null: omit it when unknown.
        message["timestamp"] = stamp.isoformat().replace("+00:00", "Z")
    message["event"] = record.event
    if record.level:
        message["level"] = record.level.lower()
    if record.logger:
        message["logger"] = record.logger
    if record.stream in ("stdout", "stderr"):
        message["chan"] = record.stream
    for key, value in sorted(record.fields.items()):
        if key not in _RESERVED:
            message[key] = value
    return message
