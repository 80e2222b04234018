"""The Redis stream + PostgreSQL archive store beyond the shared contract: the
archive has everything, the stream is only the live part."""

from __future__ import annotations

import asyncpg
import pytest
import redis.asyncio as redis
from leoflow_logs.store.redis_store import RedisLogStore
from leoflow_proto.logs.v1 import logs_pb2


def records(first: int, last: int) -> list[logs_pb2.LogRecord]:
    return [logs_pb2.LogRecord(sequence=s, event=f"line {s}") for s in range(first, last + 1)]


async def _stream_keys(redis_url: str, prefix: str) -> list[bytes]:
    client = redis.Redis.from_url(redis_url)
    try:
        return [key async for key in client.scan_iter(match=f"{prefix}logs:*")]
    finally:
        await client.aclose()


async def test_reads_fall_back_to_the_archive_once_the_stream_is_gone(
    make_store, try_key, redis_url, redis_prefix
):
    store = await make_store("redis")
    await store.append(try_key, records(1, 5), final=True)
    keys = await _stream_keys(redis_url, redis_prefix)
    assert len(keys) == 2  # the stream and its meta hash
    client = redis.Redis.from_url(redis_url)
    await client.delete(*keys)  # as if they had expired
    await client.aclose()
    chunk = await store.read(try_key, after_sequence=2, limit=10)
    assert [r.event for r in chunk.records] == ["line 3", "line 4", "line 5"]
    assert chunk.closed and chunk.last_sequence == 5


async def test_a_trimmed_stream_still_serves_every_record_through_the_archive(make_store, try_key):
    store = await make_store("redis", max_stream_entries=100)
    for first in range(1, 1001, 100):
        await store.append(try_key, records(first, first + 99), final=False)
    everything = await store.read(try_key, after_sequence=0, limit=5000)
    assert [r.sequence for r in everything.records] == list(range(1, 1001))
    tail = await store.read(try_key, after_sequence=990, limit=5000)
    assert [r.sequence for r in tail.records] == list(range(991, 1001))


async def test_a_record_that_reached_the_archive_but_not_the_stream_is_filled_in_on_resend(
    make_store, try_key, logs_dsn
):
    store: RedisLogStore = await make_store("redis")
    await store.append(try_key, records(1, 2), final=False)
    # An earlier attempt stored 3..4 in the archive, then failed before the stream.
    await store._archive.append(try_key, records(3, 4), final=False)
    await store.append(try_key, records(3, 6), final=False)  # the agent resends
    chunk = await store.read(try_key, after_sequence=0, limit=100)
    assert [r.sequence for r in chunk.records] == [1, 2, 3, 4, 5, 6]
    conn = await asyncpg.connect(logs_dsn)
    try:
        stored = await conn.fetchval(
            "SELECT count(*) FROM logs.log_records r JOIN logs.log_tries t ON t.id = r.try_id WHERE t.tenant_id = $1",
            try_key.tenant_id,
        )
    finally:
        await conn.close()
    assert stored == 6


async def test_an_unreachable_redis_is_unavailable_and_the_resend_heals_the_stream(
    make_store, try_key, logs_dsn
):
    from leoflow_common.db import create_pool
    from leoflow_common.errors import Unavailable
    from leoflow_common.testing import free_port
    from leoflow_logs.store import GuardedLogStore, PostgresLogArchive

    nowhere = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=2)
    archive = PostgresLogArchive(await create_pool(logs_dsn, max_size=2))
    broken = GuardedLogStore(
        RedisLogStore(
            nowhere,
            archive,
            prefix="x:",
            stream_ttl_seconds=60,
            closed_stream_ttl_seconds=60,
            max_stream_entries=100,
        )
    )
    try:
        with pytest.raises(Unavailable, match="the log store is unavailable"):
            await broken.append(try_key, records(1, 3), final=False)
    finally:
        await broken.close()
    healthy = await make_store("redis")
    result = await healthy.append(try_key, records(1, 4), final=False)  # the agent resends
    assert (result.accepted, result.last_sequence) == (1, 4)
    chunk = await healthy.read(try_key, after_sequence=0, limit=10)
    assert [r.sequence for r in chunk.records] == [1, 2, 3, 4]
