"""Fixtures of the logs service's tests: both stores on real disk, Redis and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as redis
from leoflow_common.db import create_pool
from leoflow_logs.keys import TryId
from leoflow_logs.migrate import upgrade_database
from leoflow_logs.store import DiskLogStore, PostgresLogArchive, RedisLogStore


@pytest.fixture(scope="session")
async def logs_dsn(pg_database):
    """The session database with schema "logs" migrated."""
    await upgrade_database(pg_database)
    return pg_database


@pytest.fixture
def try_key() -> TryId:
    """A try of its own (own tenant), so tests sharing stores never meet."""
    return TryId(
        f"tenant-{uuid.uuid4().hex[:8]}",
        "etl",
        "manual__2026-01-01T00:00:00+00:00",
        "extract",
        -1,
        1,
    )


@pytest.fixture
async def make_store(logs_dsn, redis_url, redis_prefix, tmp_path):
    """make_store(backend, **options) -> a LogStore closed after the test."""
    opened = []

    async def make(backend: str, **options):
        if backend == "disk":
            store = DiskLogStore(tmp_path / "logs", **options)
        else:
            archive = PostgresLogArchive(await create_pool(logs_dsn, max_size=4))
            settings = {
                "stream_ttl_seconds": 3600,
                "closed_stream_ttl_seconds": 600,
                "max_stream_entries": 10_000,
            }
            store = RedisLogStore(
                redis.Redis.from_url(redis_url),
                archive,
                prefix=redis_prefix,
                **(settings | options),
            )
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()
    client = redis.Redis.from_url(redis_url)
    async for key in client.scan_iter(match=f"{redis_prefix}*"):
        await client.delete(key)
    await client.aclose()


@pytest.fixture(params=("disk", "redis"))
async def store(request, make_store):
    return await make_store(request.param)
