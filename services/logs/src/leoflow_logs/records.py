"""What a log record may be once it is stored (pure).

Log lines come from user code, so they are bounded rather than refused: a record
over the size limit keeps the head of its event with a marker saying how much
was cut, and loses its extra fields if they alone are too large. What is refused
is what breaks the protocol: a sequence below 1, or a batch over the limit.
Records keep the agent's sequence numbers; a record without a timestamp gets
the time it arrived.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from leoflow_common.errors import InvalidArgument
from leoflow_proto.logs.v1 import logs_pb2

# Short string attributes; longer values are cut (they are labels, not content).
_ATTRIBUTE_LIMITS = {"level": 32, "stream": 32, "logger": 256}
_MARKER = " … [truncated {cut:,} bytes]"
_FIELDS_DROPPED = "fields_dropped"


def _cut_utf8(text: str, max_bytes: int) -> str:
    """The longest prefix of `text` that fits in `max_bytes` of UTF-8."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text
    return encoded[: max(0, max_bytes)].decode("utf-8", errors="ignore")


def _truncate(record: logs_pb2.LogRecord, max_bytes: int) -> bool:
    """Shrink `record` in place to at most `max_bytes` serialized; True if it was cut."""
    if record.ByteSize() <= max_bytes:
        return False
    if record.fields:
        without_event = logs_pb2.LogRecord()
        without_event.CopyFrom(record)
        without_event.event = ""
        if without_event.ByteSize() > max_bytes // 2:
            count = len(record.fields)
            record.ClearField("fields")
            record.fields[_FIELDS_DROPPED] = str(count)
    original = record.event
    original_bytes = len(original.encode("utf-8"))
    keep = original_bytes
    # Each pass cuts the overflow (marker included); the varint length prefix and
    # the marker's digits shrinking make one pass almost always enough.
    while record.ByteSize() > max_bytes and keep > 0:
        keep = max(0, keep - (record.ByteSize() - max_bytes))
        kept = _cut_utf8(original, keep)
        record.event = kept + _MARKER.format(cut=original_bytes - len(kept.encode("utf-8")))
    return True


def normalize(
    records: Iterable[logs_pb2.LogRecord], *, max_record_bytes: int
) -> tuple[list[logs_pb2.LogRecord], int]:
    """Copies of `records` ready to store, and how many were truncated."""
    normalized: list[logs_pb2.LogRecord] = []
    truncated = 0
    now_ns = time.time_ns()
    for index, source in enumerate(records):
        if source.sequence < 1:
            raise InvalidArgument(
                f"records[{index}].sequence must be 1 or more, not {source.sequence}",
                field=f"records[{index}].sequence",
            )
        record = logs_pb2.LogRecord()
        record.CopyFrom(source)
        if not record.HasField("timestamp"):
            record.timestamp.seconds, record.timestamp.nanos = divmod(now_ns, 1_000_000_000)
        record.level = (record.level or "info").lower()
        for attribute, limit in _ATTRIBUTE_LIMITS.items():
            value = getattr(record, attribute)
            if len(value) > limit:
                setattr(record, attribute, value[:limit])
        truncated += _truncate(record, max_record_bytes)
        normalized.append(record)
    return normalized, truncated


def check_batch_size(count: int, *, max_records: int) -> None:
    """InvalidArgument when one request carries more than `max_records` records."""
    if count > max_records:
        raise InvalidArgument(
            f"an AppendLogs request carries {count:,} records; the limit is {max_records:,} per request",
            field="records",
        )


def fresh_records(
    records: Iterable[logs_pb2.LogRecord], last_sequence: int
) -> list[logs_pb2.LogRecord]:
    """The records not stored yet: those above `last_sequence`, each above the one
    before it (so a resent or reordered record is kept once)."""
    fresh = []
    for record in records:
        if record.sequence > last_sequence:
            fresh.append(record)
            last_sequence = record.sequence
    return fresh
