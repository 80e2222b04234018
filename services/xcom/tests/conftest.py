"""Fixtures of the xcom service's tests: both stores on real Redis and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as redis
from leoflow_common.bus import InProcessBus
from leoflow_common.db import create_pool
from leoflow_common.grpc import client_channel, static_token
from leoflow_common.settings import SecuritySettings
from leoflow_proto.xcom.v1 import xcom_pb2_grpc
from leoflow_xcom.app import XComApp
from leoflow_xcom.migrate import upgrade_database
from leoflow_xcom.settings import XComSettings
from leoflow_xcom.store import PostgresXComStore, RedisXComStore

BACKENDS = ("redis", "postgres")
WEEK = 7 * 24 * 3600
# The secrets the served xcom app of `service` verifies tokens with.
JWT_SECRET = "test-jwt-secret-of-at-least-32-bytes!"
AGENT_SECRET = "test-agent-secret-of-at-least-32-bytes"


@pytest.fixture(scope="session")
async def xcom_dsn(pg_database):
    """The session database with schema "xcom" migrated."""
    await upgrade_database(pg_database)
    return pg_database


@pytest.fixture
def tenant() -> str:
    """A tenant of its own, so tests sharing a database or Redis never meet."""
    return f"tenant-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def make_store(xcom_dsn, redis_url, redis_prefix):
    """make_store(backend, ttl_seconds=WEEK) -> an XComStore closed after the test."""
    opened = []

    async def make(backend: str, ttl_seconds: int = WEEK):
        if backend == "redis":
            store = RedisXComStore(
                redis.Redis.from_url(redis_url), prefix=redis_prefix, ttl_seconds=ttl_seconds
            )
        else:
            store = PostgresXComStore(
                await create_pool(xcom_dsn, max_size=4), ttl_seconds=ttl_seconds
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


@pytest.fixture(params=BACKENDS)
async def store(request, make_store):
    return await make_store(request.param)


@pytest.fixture(scope="module", params=("redis", "postgres"))
async def service(request, xcom_dsn, redis_url):
    prefix = f"leoflow-test:{uuid.uuid4().hex[:10]}:"
    bus = InProcessBus()
    await bus.start()
    settings = XComSettings(
        grpc_bind="127.0.0.1:0",
        backend=request.param,
        redis_url=redis_url,
        key_prefix=prefix,
        database_url=xcom_dsn,
        security=SecuritySettings(jwt_secret=JWT_SECRET, agent_token_secret=AGENT_SECRET),
    )
    app = XComApp(settings, bus=bus)
    await app.start()
    yield app, bus
    await app.stop()
    await bus.close()
    client = redis.Redis.from_url(redis_url)
    async for key in client.scan_iter(match=f"{prefix}*"):
        await client.delete(key)
    await client.aclose()


@pytest.fixture
async def connect(service):
    app, _ = service
    channels = []

    def connect(token: str | None = None) -> xcom_pb2_grpc.XComServiceStub:
        channel = client_channel(
            f"127.0.0.1:{app.grpc_port}", static_token(token) if token else None
        )
        channels.append(channel)
        return xcom_pb2_grpc.XComServiceStub(channel)

    yield connect
    for channel in channels:
        await channel.close()
