"""The logs service over real gRPC with real tokens, on both stores."""

from __future__ import annotations

import asyncio
import uuid

import grpc
import pytest
import redis.asyncio as redis
from leoflow_common.auth import TaskScope, TokenCodec
from leoflow_common.grpc import client_channel, static_token
from leoflow_common.settings import SecuritySettings
from leoflow_common.testing import assert_eventually
from leoflow_logs.app import LogsApp
from leoflow_logs.metrics import METRICS
from leoflow_logs.settings import LogsSettings
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.logs.v1 import logs_pb2, logs_pb2_grpc
from prometheus_client import REGISTRY

JWT_SECRET = "test-jwt-secret-of-at-least-32-bytes!"
AGENT_SECRET = "test-agent-secret-of-at-least-32-bytes"
CODEC = TokenCodec(JWT_SECRET, AGENT_SECRET)
DAG, RUN = "etl", "manual__2026-01-01T00:00:00+00:00"


@pytest.fixture(scope="module", params=("disk", "redis"))
async def service(request, logs_dsn, redis_url, tmp_path_factory):
    prefix = f"leoflow-test:{uuid.uuid4().hex[:10]}:"
    settings = LogsSettings(
        grpc_bind="127.0.0.1:0",
        backend=request.param,
        directory=tmp_path_factory.mktemp("logs"),
        redis_url=redis_url,
        key_prefix=prefix,
        database_url=logs_dsn,
        max_batch_records=50,
        follow_wait_seconds=30,  # wake-ups must come from appends, not from this timeout
        security=SecuritySettings(jwt_secret=JWT_SECRET, agent_token_secret=AGENT_SECRET),
    )
    app = LogsApp(settings)
    await app.start()
    yield app
    await app.stop()
    client = redis.Redis.from_url(redis_url)
    async for key in client.scan_iter(match=f"{prefix}*"):
        await client.delete(key)
    await client.aclose()


@pytest.fixture
async def connect(service):
    channels = []

    def connect(token: str | None = None) -> logs_pb2_grpc.LogServiceStub:
        channel = client_channel(
            f"127.0.0.1:{service.grpc_port}", static_token(token) if token else None
        )
        channels.append(channel)
        return logs_pb2_grpc.LogServiceStub(channel)

    yield connect
    for channel in channels:
        await channel.close()


@pytest.fixture
def tenant() -> str:
    return f"tenant-{uuid.uuid4().hex[:8]}"


def try_key(task_id: str = "extract", try_number: int = 1) -> keys_pb2.TaskInstanceTryKey:
    ti = keys_pb2.TaskInstanceKey(dag_id=DAG, run_id=RUN, task_id=task_id, map_index=-1)
    return keys_pb2.TaskInstanceTryKey(task_instance=ti, try_number=try_number)


def agent_token(tenant: str, task_id: str = "extract", try_number: int = 1) -> str:
    return CODEC.mint_agent(
        tenant, TaskScope(DAG, RUN, task_id, -1, try_number, f"exec-{task_id}-{try_number}")
    )


def viewer_token(tenant: str) -> str:
    return CODEC.mint_user("vera", tenant, ["Viewer"])


def lines(first: int, last: int) -> list[logs_pb2.LogRecord]:
    return [
        logs_pb2.LogRecord(sequence=s, stream="stdout", event=f"line {s}")
        for s in range(first, last + 1)
    ]


async def append(stub, *requests: logs_pb2.AppendLogsRequest) -> logs_pb2.AppendLogsResponse:
    async def requests_iter():
        for request in requests:
            yield request

    return await stub.AppendLogs(requests_iter())


async def read_all(stub, key, **options) -> list[logs_pb2.ReadLogsResponse]:
    return [m async for m in stub.ReadLogs(logs_pb2.ReadLogsRequest(key=key, **options))]


async def test_agent_appends_and_a_viewer_reads(connect, tenant):
    agent = connect(agent_token(tenant))
    response = await append(
        agent,
        logs_pb2.AppendLogsRequest(key=try_key(), records=lines(1, 3)),
        logs_pb2.AppendLogsRequest(key=try_key(), records=lines(2, 5), final=True),  # 2..3 resent
    )
    assert (response.accepted, response.last_sequence) == (5, 5)
    messages = await read_all(connect(viewer_token(tenant)), try_key())
    assert [r.event for m in messages for r in m.records] == [f"line {n}" for n in range(1, 6)]
    assert messages[-1].end_of_log and messages[-1].last_sequence == 5
    cont = await read_all(connect(viewer_token(tenant)), try_key(), after_sequence=3, limit=1)
    assert [[r.sequence for r in m.records] for m in cont] == [[4]] and not cont[-1].end_of_log


async def test_agent_appending_to_another_try_is_denied(connect, tenant):
    agent = connect(agent_token(tenant, try_number=1))
    for wrong in (try_key(try_number=2), try_key(task_id="load")):
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await append(agent, logs_pb2.AppendLogsRequest(key=wrong, records=lines(1, 1)))
        assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    messages = await read_all(connect(viewer_token(tenant)), try_key(try_number=2))
    assert [list(m.records) for m in messages] == [[]]


async def test_only_agents_append_and_only_authenticated_callers_read(connect, tenant):
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await append(
            connect(CODEC.mint_user("root", tenant, ["Admin"])),
            logs_pb2.AppendLogsRequest(key=try_key(), records=lines(1, 1)),
        )
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await read_all(connect(), try_key())
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await read_all(connect(agent_token(tenant)), try_key())
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_readers_see_only_their_tenant_and_services_name_one(connect, tenant):
    await append(
        connect(agent_token(tenant)), logs_pb2.AppendLogsRequest(key=try_key(), records=lines(1, 2))
    )
    stranger = await read_all(connect(viewer_token(tenant + "-other")), try_key())
    assert [list(m.records) for m in stranger] == [[]]
    service = connect(CODEC.mint_service("api-gateway"))
    messages = [
        m
        async for m in service.ReadLogs(
            logs_pb2.ReadLogsRequest(key=try_key()), metadata=(("leoflow-tenant", tenant),)
        )
    ]
    assert [r.sequence for m in messages for r in m.records] == [1, 2]


async def test_a_follower_sees_lines_while_the_task_runs_and_stops_at_final(connect, tenant):
    agent = connect(agent_token(tenant))
    await append(agent, logs_pb2.AppendLogsRequest(key=try_key(), records=lines(1, 1)))
    received: list[logs_pb2.ReadLogsResponse] = []

    async def follow():
        async for message in connect(viewer_token(tenant)).ReadLogs(
            logs_pb2.ReadLogsRequest(key=try_key(), follow=True)
        ):
            received.append(message)

    follower = asyncio.create_task(follow())

    async def sequences():
        return [r.sequence for m in received for r in m.records]

    await assert_eventually(lambda: _equals(sequences, [1]))
    await append(agent, logs_pb2.AppendLogsRequest(key=try_key(), records=lines(2, 3)))
    await assert_eventually(
        lambda: _equals(sequences, [1, 2, 3]),
        message="a line appended later never reached the follower",
    )
    assert not follower.done()
    await append(agent, logs_pb2.AppendLogsRequest(key=try_key(), records=lines(4, 4), final=True))
    await asyncio.wait_for(follower, timeout=30)
    assert await sequences() == [1, 2, 3, 4]
    assert received[-1].end_of_log and not any(m.end_of_log for m in received[:-1])


async def _equals(get, expected) -> bool:
    return await get() == expected


async def test_a_follower_that_goes_away_is_let_go(connect, tenant, service):
    before = _followers()
    call = connect(viewer_token(tenant)).ReadLogs(
        logs_pb2.ReadLogsRequest(key=try_key("idle"), follow=True)
    )
    first = await call.read()
    assert list(first.records) == [] and not first.end_of_log
    assert _followers() == before + 1
    call.cancel()
    await assert_eventually(
        lambda: _followers_back_to(before), message="the server kept following for a gone caller"
    )


def _followers() -> float:
    return REGISTRY.get_sample_value("leoflow_logs_followers") or 0.0


async def _followers_back_to(value: float) -> bool:
    return _followers() == value


async def test_oversize_records_are_truncated_and_oversize_batches_refused(connect, tenant):
    agent = connect(agent_token(tenant))
    huge = logs_pb2.LogRecord(sequence=1, event="x" * 200_000)
    await append(agent, logs_pb2.AppendLogsRequest(key=try_key(), records=[huge]))
    [message] = await read_all(connect(viewer_token(tenant)), try_key())
    [record] = message.records
    assert (
        record.ByteSize() <= 64 * 1024
        and record.event.endswith(" bytes]")
        and "truncated" in record.event
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await append(agent, logs_pb2.AppendLogsRequest(key=try_key(), records=lines(2, 60)))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "the limit is 50 per request" in err.value.details()


async def test_bad_keys_and_cursors_are_clear_errors(connect, tenant):
    viewer = connect(viewer_token(tenant))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await read_all(viewer, try_key(try_number=0))
    assert (
        err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        and "try_number must be 1 or more" in err.value.details()
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await read_all(viewer, try_key(), after_sequence=-1)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    agent = connect(agent_token(tenant))
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await append(
            agent,
            logs_pb2.AppendLogsRequest(key=try_key(), records=[logs_pb2.LogRecord(sequence=0)]),
        )
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def _sample(name: str) -> float:
    return REGISTRY.get_sample_value(name) or 0.0


async def test_every_served_path_feeds_its_metric(connect, tenant):
    counters = (
        "leoflow_logs_records_appended_total",
        "leoflow_logs_records_duplicate_total",
        "leoflow_logs_records_truncated_total",
        "leoflow_logs_closed_total",
    )
    before = {name: _sample(name) for name in counters}
    agent = connect(agent_token(tenant, "metered"))
    key = try_key("metered")
    huge = logs_pb2.LogRecord(sequence=3, event="x" * 100_000)
    await append(
        agent,
        logs_pb2.AppendLogsRequest(key=key, records=lines(1, 2)),
        logs_pb2.AppendLogsRequest(key=key, records=[*lines(2, 2), huge], final=True),
    )
    assert {name: _sample(name) - before[name] for name in counters} == {
        "leoflow_logs_records_appended_total": 3,
        "leoflow_logs_records_duplicate_total": 1,
        "leoflow_logs_records_truncated_total": 1,
        "leoflow_logs_closed_total": 1,
    }
    assert METRICS.unobserved() == []
