"""The NDJSON line format of log files: one JSON object per line.

A record line: {"sequence": 7, "timestamp": "...Z", "level": "info", "stream":
"stdout", "event": "...", "logger": "...", "fields": {...}}. The closing line:
{"end_of_log": true, "last_sequence": 7}. A line that does not parse (a write cut
short by a crash) is skipped by readers.
"""

from __future__ import annotations

import json

from leoflow_proto.logs.v1 import logs_pb2


def record_line(record: logs_pb2.LogRecord) -> bytes:
    document = {
        "sequence": record.sequence,
        "timestamp": record.timestamp.ToJsonString(),
        "level": record.level,
        "stream": record.stream,
        "event": record.event,
    }
    if record.logger:
        document["logger"] = record.logger
    if record.fields:
        document["fields"] = dict(record.fields)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def end_line(last_sequence: int) -> bytes:
    return (
        json.dumps(
            {"end_of_log": True, "last_sequence": last_sequence}, separators=(",", ":")
        ).encode()
        + b"\n"
    )


def parse_line(line: bytes) -> logs_pb2.LogRecord | int | None:
    """A record, the last sequence of an end-of-log line, or None for a line that
    is not complete JSON of either kind."""
    try:
        document = json.loads(line)
        if document.get("end_of_log") is True:
            return int(document["last_sequence"])
        record = logs_pb2.LogRecord(
            sequence=int(document["sequence"]),
            level=document.get("level", ""),
            stream=document.get("stream", ""),
            event=document.get("event", ""),
            logger=document.get("logger", ""),
            fields=document.get("fields") or {},
        )
        if document.get("timestamp"):
            record.timestamp.FromJsonString(document["timestamp"])
        return record
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
