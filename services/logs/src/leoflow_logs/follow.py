"""Reading a log as a sequence of messages, optionally following it (pure
control flow over a LogStore).

Messages carry at most `batch_size` records and about `max_message_bytes` (far
below gRPC's message limit, records being bounded too). There is always at least
one message, at once, so the caller learns the cursor and that the call is live.
Without follow,
reading stops when the stored records are exhausted. With follow, it then waits on
the store (woken by appends, never a fixed-sleep poll) and goes on until the log
is closed or the caller goes away. `end_of_log` is set on the last message
exactly when the log is closed and every record was sent; a `limit` stops early.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from leoflow_proto.logs.v1 import logs_pb2

from .keys import TryId
from .store import LogStore

# Well under gRPC's 16 MiB message limit, whatever the records' sizes.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class LogMessage:
    records: list[logs_pb2.LogRecord]
    end_of_log: bool
    cursor: int  # sequence of the last record sent so far (the continuation cursor)


async def read_log(
    store: LogStore,
    try_id: TryId,
    *,
    after_sequence: int,
    limit: int = 0,
    follow: bool = False,
    batch_size: int = 1000,
    max_message_bytes: int = MAX_MESSAGE_BYTES,
    wait_seconds: float = 5.0,
) -> AsyncIterator[LogMessage]:
    cursor = after_sequence
    remaining = limit if limit > 0 else None
    sent = False
    while True:
        want = batch_size if remaining is None else min(batch_size, remaining)
        chunk = await store.read(try_id, after_sequence=cursor, limit=want)
        if chunk.records:
            cursor = chunk.records[-1].sequence
            if remaining is not None:
                remaining -= len(chunk.records)
        end = chunk.reaches_end(cursor)
        if chunk.records or end:
            parts = _split(chunk.records, max_message_bytes)
            for index, part in enumerate(parts):
                last_part = index == len(parts) - 1
                yield LogMessage(part, end and last_part, part[-1].sequence if part else cursor)
            sent = True
        if end or remaining == 0:
            return
        if len(chunk.records) == want:
            continue  # there may be more right away
        if not sent:  # the caller learns the cursor and that the call is live
            yield LogMessage([], False, cursor)
            sent = True
        if not follow:
            return
        await store.wait(try_id, after_sequence=cursor, max_wait=wait_seconds)


def _split(records: list[logs_pb2.LogRecord], max_bytes: int) -> list[list[logs_pb2.LogRecord]]:
    """`records` in runs of at most `max_bytes` serialized (each run holds at least
    one record); [[]] for no records."""
    parts: list[list[logs_pb2.LogRecord]] = [[]]
    size = 0
    for record in records:
        record_size = record.ByteSize() + 8  # field tag and length prefix
        if parts[-1] and size + record_size > max_bytes:
            parts.append([])
            size = 0
        parts[-1].append(record)
        size += record_size
    return parts
