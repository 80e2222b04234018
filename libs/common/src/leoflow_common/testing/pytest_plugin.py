"""pytest fixtures for real PostgreSQL, RabbitMQ and Redis.

Tests talk to the real servers on their standard ports (override with
LEOFLOW_TEST_PG_ADMIN_DSN, LEOFLOW_TEST_AMQP_URL, LEOFLOW_TEST_REDIS_URL). A
server that is not reachable fails the test: nothing here ever skips for want of
a service. Each test session (each xdist worker) gets its own database, bus
namespace and Redis key prefix, so parallel workers never see each other.
"""

from __future__ import annotations

import asyncio
import os
import uuid

import asyncpg
import pytest

PG_ADMIN_DSN = os.environ.get("LEOFLOW_TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
AMQP_URL = os.environ.get("LEOFLOW_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REDIS_URL = os.environ.get("LEOFLOW_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _session_tag(config) -> str:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    return f"{worker}_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def session_tag(request) -> str:
    return _session_tag(request.config)


def _dsn_for(database: str) -> str:
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


async def create_database(name: str) -> str:
    try:
        conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(f"PostgreSQL is not reachable at {PG_ADMIN_DSN}: {exc} (start it; see README)")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return _dsn_for(name)


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
async def pg_database(session_tag):
    """A fresh, empty database for this test session: yields its DSN."""
    name = f"leoflow_test_{session_tag}"
    dsn = await create_database(name)
    yield dsn
    await drop_database(name)


@pytest.fixture
async def fresh_database():
    """A fresh database for one test (for tests that need an empty schema)."""
    name = f"leoflow_t_{uuid.uuid4().hex[:12]}"
    dsn = await create_database(name)
    yield dsn
    await drop_database(name)


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return AMQP_URL


async def delete_bus_namespace(amqp_url: str, namespace: str) -> None:
    """Delete every durable queue and exchange of `namespace` from the broker.

    Quorum queues are Raft clusters: left behind by hundreds of test runs they
    exhaust the broker, so whoever creates a namespace deletes it. Deleting what
    does not exist is harmless (RabbitMQ's queue.delete/exchange.delete are
    idempotent), so this never declares anything first."""
    import aio_pika  # noqa: PLC0415 - only tests that used a namespace pay for it

    from ..bus._topology import durable_queue_declarations, exchange_declarations  # noqa: PLC0415

    try:
        connection = await asyncio.wait_for(aio_pika.connect(amqp_url), timeout=10)
    except (OSError, asyncio.TimeoutError, aio_pika.exceptions.AMQPError):
        return  # nothing was created on a broker we cannot reach
    try:
        for queue in durable_queue_declarations(namespace):
            channel = await connection.channel()
            try:
                await channel.queue_delete(queue.name)
            except aio_pika.exceptions.AMQPError:
                pass
            finally:
                if not channel.is_closed:
                    await channel.close()
        for exchange in exchange_declarations(namespace):
            channel = await connection.channel()
            try:
                await channel.exchange_delete(exchange.name)
            except aio_pika.exceptions.AMQPError:
                pass
            finally:
                if not channel.is_closed:
                    await channel.close()
    finally:
        await connection.close()


@pytest.fixture
async def bus_namespace():
    """A namespace of its own for one test's exchanges and queues, deleted after it."""
    namespace = f"test.{uuid.uuid4().hex[:10]}"
    yield namespace
    await delete_bus_namespace(AMQP_URL, namespace)


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def redis_prefix() -> str:
    return f"leoflow-test:{uuid.uuid4().hex[:10]}:"
