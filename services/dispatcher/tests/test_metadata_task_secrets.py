"""GetTaskSecrets: the dispatcher forwards its agent's request to a real scheduler
with its own service token, for the tenant in the agent's token only."""

from __future__ import annotations

import grpc
import pytest
from leoflow_common.grpc import client_channel, static_token
from leoflow_common.settings import BusSettings, SecuritySettings
from leoflow_common.testing import assert_eventually
from leoflow_dispatcher import secrets_prefetch
from leoflow_proto.dispatcher.v1 import agent_pb2
from leoflow_proto.scheduler.v1 import metadata_pb2, metadata_pb2_grpc
from leoflow_scheduler.app import SchedulerApp
from leoflow_scheduler.settings import SchedulerSettings

SECRET_KEY = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"


@pytest.fixture
async def scheduler(harness, fresh_database):
    app = SchedulerApp(
        SchedulerSettings(
            database_url=fresh_database,
            grpc_bind="127.0.0.1:0",
            security=SecuritySettings(
                jwt_secret=harness.jwt_secret, agent_token_secret=harness.agent_secret, secret_key=SECRET_KEY
            ),
            bus=BusSettings(url="memory://"),
        )
    )
    await app.start()
    yield app
    await app.stop()


async def _add_variable(scheduler, harness, tenant: str, key: str, value: str) -> None:
    token = harness.codec.mint_user("op", tenant, ["Op"])
    async with client_channel(f"127.0.0.1:{scheduler.grpc_port}", static_token(token)) as channel:
        await metadata_pb2_grpc.VariableServiceStub(channel).CreateVariable(
            metadata_pb2.CreateVariableRequest(variable=metadata_pb2.VariableBody(key=key, value=value))
        )


async def test_an_agent_gets_its_own_tenants_secrets_only(harness, scheduler):
    await _add_variable(scheduler, harness, harness.TENANT, "mine", "for this tenant")
    await _add_variable(scheduler, harness, "tenant-b", "theirs", "for another tenant")
    await harness.start(scheduler_address=f"127.0.0.1:{scheduler.grpc_port}")
    execution = harness.execution("transform", mode="idle")
    await harness.dispatch(execution)
    await harness.wait_record(lambda r: r.get("spec", {}).get("key", {}).get("task_id") == "transform")

    channel, stub = harness.agent(harness.token(execution))
    async with channel:
        answer = await stub.GetTaskSecrets(agent_pb2.GetTaskSecretsRequest())
    assert [(v.key, v.value) for v in answer.variables] == [("mine", "for this tenant")]

    # The same task claimed for another tenant is no execution this dispatcher runs.
    channel, stub = harness.agent(harness.token(execution, tenant_id="tenant-b"))
    async with channel:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetTaskSecrets(agent_pb2.GetTaskSecretsRequest())
    assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_without_a_scheduler_address_agents_get_nothing(harness):
    await harness.start(scheduler_address="")
    execution = harness.execution("transform", mode="idle")
    await harness.dispatch(execution)
    await harness.wait_record(lambda r: r.get("spec", {}).get("key", {}).get("task_id") == "transform")
    channel, stub = harness.agent(harness.token(execution))
    async with channel:
        answer = await stub.GetTaskSecrets(agent_pb2.GetTaskSecretsRequest())
    assert list(answer.variables) == [] and list(answer.connections) == []


async def _variables_seen_by_the_agent(harness, execution) -> list[tuple[str, str]]:
    channel, stub = harness.agent(harness.token(execution))
    async with channel:
        answer = await stub.GetTaskSecrets(agent_pb2.GetTaskSecretsRequest())
    return [(v.key, v.value) for v in answer.variables]


async def _update_variable(scheduler, harness, key: str, value: str) -> None:
    token = harness.codec.mint_user("op", harness.TENANT, ["Op"])
    async with client_channel(f"127.0.0.1:{scheduler.grpc_port}", static_token(token)) as channel:
        await metadata_pb2_grpc.VariableServiceStub(channel).UpdateVariable(
            metadata_pb2.UpdateVariableRequest(key=key, variable=metadata_pb2.VariableBody(key=key, value=value))
        )


async def _dispatch_then_change_the_variable(harness, scheduler):
    """Variable "stage" is "at dispatch" when the try is dispatched and its secrets
    arrived; then it becomes "later". The dispatched execution."""
    await _add_variable(scheduler, harness, harness.TENANT, "stage", "at dispatch")
    app = await harness.start(scheduler_address=f"127.0.0.1:{scheduler.grpc_port}")
    execution = harness.execution("transform", mode="idle")
    name = await harness.dispatch(execution)

    async def prefetched():
        known = app.supervisor.get(name)
        return known is not None and known.secrets is not None and known.secrets.arrived

    await assert_eventually(prefetched, timeout=10, message="the secrets asked for at dispatch arrived")
    await _update_variable(scheduler, harness, "stage", "later")
    return execution


async def test_the_secrets_asked_for_at_dispatch_answer_the_agents_first_call_only(harness, scheduler, monkeypatch):
    monkeypatch.setattr(secrets_prefetch, "MAX_AGE", 60.0)  # however slow this machine is
    execution = await _dispatch_then_change_the_variable(harness, scheduler)
    # The answer was asked for at dispatch: the change after it is not in the first answer...
    assert await _variables_seen_by_the_agent(harness, execution) == [("stage", "at dispatch")]
    # ...and the prefetched answer is used once: a second call asks the scheduler.
    assert await _variables_seen_by_the_agent(harness, execution) == [("stage", "later")]


async def test_a_stale_prefetched_answer_is_asked_for_again(harness, scheduler, monkeypatch):
    monkeypatch.setattr(secrets_prefetch, "MAX_AGE", 0.0)
    execution = await _dispatch_then_change_the_variable(harness, scheduler)
    assert await _variables_seen_by_the_agent(harness, execution) == [("stage", "later")]


async def test_a_failed_prefetch_is_not_the_agents_answer():
    async def unreachable():
        raise ConnectionError("scheduler down")

    async def answer():
        return agent_pb2.GetTaskSecretsResponse(variables=[metadata_pb2.TaskVariable(key="k", value="v")])

    failed = secrets_prefetch.SecretsPrefetch("tenant", unreachable())
    assert await failed.take() is None
    fresh = secrets_prefetch.SecretsPrefetch("tenant", answer())
    assert [v.key for v in (await fresh.take()).variables] == ["k"]
