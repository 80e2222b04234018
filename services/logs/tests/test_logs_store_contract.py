"""The LogStore contract, held by the disk store and the Redis + PostgreSQL store."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from leoflow_common.errors import FailedPrecondition
from leoflow_common.testing import assert_eventually
from leoflow_logs.follow import read_log
from leoflow_proto.logs.v1 import logs_pb2


def records(*sequences: int, text: str = "line") -> list[logs_pb2.LogRecord]:
    out = []
    for sequence in sequences:
        record = logs_pb2.LogRecord(
            sequence=sequence, level="info", stream="stdout", event=f"{text} {sequence}"
        )
        record.timestamp.FromSeconds(1_700_000_000 + sequence)
        record.fields["n"] = str(sequence)
        out.append(record)
    return out


def events(chunk_records) -> list[str]:
    return [r.event for r in chunk_records]


async def test_append_then_read_returns_records_in_order_with_all_their_fields(store, try_key):
    result = await store.append(try_key, records(1, 2, 3), final=False)
    assert (result.accepted, result.last_sequence) == (3, 3)
    chunk = await store.read(try_key, after_sequence=0, limit=100)
    assert chunk.records == records(1, 2, 3)
    assert (chunk.last_sequence, chunk.closed) == (3, False)


async def test_an_unknown_try_reads_as_empty_and_open(store, try_key):
    chunk = await store.read(try_key, after_sequence=0, limit=10)
    assert (chunk.records, chunk.last_sequence, chunk.closed) == ([], 0, False)


async def test_resent_records_are_stored_once(store, try_key):
    await store.append(try_key, records(1, 2, 3), final=False)
    result = await store.append(try_key, records(2, 3, 4, 5), final=False)
    assert (result.accepted, result.last_sequence) == (2, 5)
    result = await store.append(try_key, records(1, 2), final=False)
    assert (result.accepted, result.last_sequence) == (0, 5)
    # Out of order within one batch: only what is above the running last is kept.
    result = await store.append(try_key, records(7, 6, 8), final=False)
    assert (result.accepted, result.last_sequence) == (2, 8)
    chunk = await store.read(try_key, after_sequence=0, limit=100)
    assert [r.sequence for r in chunk.records] == [1, 2, 3, 4, 5, 7, 8]


async def test_read_continues_after_a_cursor_with_a_limit(store, try_key):
    await store.append(try_key, records(*range(1, 11)), final=False)
    first = await store.read(try_key, after_sequence=0, limit=4)
    assert [r.sequence for r in first.records] == [1, 2, 3, 4]
    rest = await store.read(try_key, after_sequence=first.records[-1].sequence, limit=100)
    assert [r.sequence for r in rest.records] == [5, 6, 7, 8, 9, 10]
    assert (await store.read(try_key, after_sequence=10, limit=100)).records == []


async def test_final_closes_the_log(store, try_key):
    await store.append(try_key, records(1, 2), final=False)
    result = await store.append(try_key, records(3), final=True)
    assert (result.accepted, result.last_sequence) == (1, 3)
    chunk = await store.read(try_key, after_sequence=0, limit=100)
    assert [r.sequence for r in chunk.records] == [1, 2, 3]
    assert chunk.closed and chunk.reaches_end(3)
    # A resent final batch is a no-op; a new record is refused.
    result = await store.append(try_key, records(2, 3), final=True)
    assert (result.accepted, result.last_sequence) == (0, 3)
    with pytest.raises(FailedPrecondition, match="is closed"):
        await store.append(try_key, records(4), final=False)
    assert [
        r.sequence for r in (await store.read(try_key, after_sequence=0, limit=100)).records
    ] == [1, 2, 3]


async def test_an_empty_log_can_be_closed(store, try_key):
    await store.append(try_key, [], final=True)
    chunk = await store.read(try_key, after_sequence=0, limit=10)
    assert (chunk.records, chunk.last_sequence, chunk.closed) == ([], 0, True)


async def test_tries_are_kept_apart(store, try_key):
    other_try = dataclasses.replace(try_key, try_number=2)
    other_tenant = dataclasses.replace(try_key, tenant_id=try_key.tenant_id + "-x")
    await store.append(try_key, records(1, 2), final=True)
    await store.append(other_try, records(1), final=False)
    assert [
        r.sequence for r in (await store.read(other_try, after_sequence=0, limit=10)).records
    ] == [1]
    assert (await store.read(other_tenant, after_sequence=0, limit=10)).records == []
    assert not (await store.read(other_try, after_sequence=0, limit=10)).closed


async def test_wait_wakes_on_append_and_on_close(store, try_key):
    waiter = asyncio.create_task(store.wait(try_key, after_sequence=0, max_wait=60))
    await asyncio.sleep(0)  # let it start waiting
    await store.append(try_key, records(1), final=False)
    await assert_eventually(lambda: _done(waiter), message="wait() did not wake on append")
    closer = asyncio.create_task(store.wait(try_key, after_sequence=1, max_wait=60))
    await asyncio.sleep(0)
    await store.append(try_key, [], final=True)
    await assert_eventually(lambda: _done(closer), message="wait() did not wake on close")


async def _done(task: asyncio.Task) -> bool:
    return task.done()


async def test_a_follower_receives_a_line_appended_after_it_started(store, try_key):
    await store.append(try_key, records(1), final=False)
    received: list[logs_pb2.LogRecord] = []
    ends: list[bool] = []

    async def follow():
        async for message in read_log(
            store, try_key, after_sequence=0, follow=True, wait_seconds=30
        ):
            received.extend(message.records)
            ends.append(message.end_of_log)

    follower = asyncio.create_task(follow())
    await assert_eventually(lambda: _has(received, 1), message="follower never got the first line")
    await store.append(try_key, records(2), final=False)
    await assert_eventually(
        lambda: _has(received, 2), message="follower never got the line appended later"
    )
    assert not follower.done()
    await store.append(try_key, records(3), final=True)
    await asyncio.wait_for(follower, timeout=30)
    assert [r.sequence for r in received] == [1, 2, 3]
    assert ends[-1] is True and not any(ends[:-1])


async def _has(received, count: int) -> bool:
    return len(received) >= count


async def test_read_log_without_follow_pages_and_flags_the_end(store, try_key):
    await store.append(try_key, records(*range(1, 8)), final=True)
    messages = [m async for m in read_log(store, try_key, after_sequence=2, batch_size=2)]
    assert [[r.sequence for r in m.records] for m in messages] == [[3, 4], [5, 6], [7]]
    assert [m.end_of_log for m in messages] == [False, False, True]
    assert messages[-1].cursor == 7
    limited = [m async for m in read_log(store, try_key, after_sequence=0, limit=3, batch_size=2)]
    assert [[r.sequence for r in m.records] for m in limited] == [[1, 2], [3]]
    assert not limited[-1].end_of_log


async def test_read_log_of_an_open_empty_log_says_so_once(store, try_key):
    messages = [m async for m in read_log(store, try_key, after_sequence=0)]
    assert [(m.records, m.end_of_log, m.cursor) for m in messages] == [([], False, 0)]


async def test_read_log_splits_big_batches_by_bytes(store, try_key):
    big = [logs_pb2.LogRecord(sequence=s, event="x" * 30_000) for s in range(1, 6)]
    await store.append(try_key, big, final=True)
    messages = [
        m async for m in read_log(store, try_key, after_sequence=0, max_message_bytes=70_000)
    ]
    assert [[r.sequence for r in m.records] for m in messages] == [[1, 2], [3, 4], [5]]
    assert [m.cursor for m in messages] == [2, 4, 5]
    assert [m.end_of_log for m in messages] == [False, False, True]
