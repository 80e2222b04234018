"""AgentService over a real gRPC server: identity comes from the token only, and
ReportState enforces the running -> one terminal state sequence."""

from __future__ import annotations

import grpc
import pytest
from leoflow_common.states import TaskInstanceState
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dispatcher.v1 import agent_pb2, agent_pb2_grpc

TI = TaskInstanceState


async def _idle_execution(harness, task_id: str = "transform"):
    """An execution whose test-double agent registers, heartbeats and reports nothing."""
    execution = harness.execution(task_id, mode="idle")
    name = await harness.dispatch(execution)
    await harness.wait_record(lambda r: r.get("spec", {}).get("key", {}).get("task_id") == task_id)
    return execution, name


async def _code(call) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value.code()


async def test_a_token_for_another_task_is_refused(harness):
    await harness.start()
    execution, name = await _idle_execution(harness)
    forged = [
        # Another task's scope naming this execution.
        harness.token(execution, task_id="load"),
        # This task, but another try.
        harness.token(execution, try_number=2),
        # This task's scope, another tenant.
        harness.token(execution, tenant_id="tenant-b"),
        # An execution this dispatcher does not run.
        harness.token(execution, name="etl-load-t1-000000000000"),
    ]
    for token in forged:
        channel, stub = harness.agent(token)
        async with channel:
            for call in (
                stub.GetTaskSpec(agent_pb2.GetTaskSpecRequest()),
                stub.Heartbeat(agent_pb2.HeartbeatRequest()),
                stub.Register(agent_pb2.RegisterRequest(protocol_version=1)),
                stub.ReportState(
                    agent_pb2.ReportStateRequest(state=states_pb2.TASK_INSTANCE_STATE_RUNNING)
                ),
            ):
                assert await _code(call) == grpc.StatusCode.PERMISSION_DENIED

    # A user's token is no agent token, and no token is no identity.
    user_token = harness.codec.mint_user("alice", harness.TENANT, ["Admin"])
    channel, stub = harness.agent(user_token)
    async with channel:
        assert (
            await _code(stub.GetTaskSpec(agent_pb2.GetTaskSpecRequest()))
            == grpc.StatusCode.PERMISSION_DENIED
        )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{harness.app.grpc_port}") as anonymous:
        stub = agent_pb2_grpc.AgentServiceStub(anonymous)
        assert (
            await _code(stub.GetTaskSpec(agent_pb2.GetTaskSpecRequest()))
            == grpc.StatusCode.UNAUTHENTICATED
        )

    # The right token works, and nothing was published for the refused reports.
    channel, stub = harness.agent(harness.token(execution))
    async with channel:
        reply = await stub.GetTaskSpec(agent_pb2.GetTaskSpecRequest())
    assert reply.execution == execution
    assert harness.events_of(name) == []


async def test_report_state_enforces_running_then_one_terminal_state(harness):
    await harness.start()
    execution, name = await _idle_execution(harness)
    channel, stub = harness.agent(harness.token(execution))

    def report(state: int, **fields):
        return stub.ReportState(agent_pb2.ReportStateRequest(state=state, **fields))

    async with channel:
        # Success before user code started.
        assert (
            await _code(report(states_pb2.TASK_INSTANCE_STATE_SUCCESS))
            == grpc.StatusCode.FAILED_PRECONDITION
        )
        # Not a state an agent reports.
        assert (
            await _code(report(states_pb2.TASK_INSTANCE_STATE_QUEUED))
            == grpc.StatusCode.INVALID_ARGUMENT
        )
        assert (
            await _code(report(states_pb2.TASK_INSTANCE_STATE_UNSPECIFIED))
            == grpc.StatusCode.INVALID_ARGUMENT
        )
        assert await _code(report(99)) == grpc.StatusCode.INVALID_ARGUMENT
        assert (await report(states_pb2.TASK_INSTANCE_STATE_RUNNING)).acknowledged
        # A retried report is answered again and published once.
        assert (await report(states_pb2.TASK_INSTANCE_STATE_RUNNING)).acknowledged
        # A failure kind only goes with failed.
        assert (
            await _code(
                report(
                    states_pb2.TASK_INSTANCE_STATE_SUCCESS,
                    failure_kind=states_pb2.FAILURE_KIND_TIMEOUT,
                )
            )
            == grpc.StatusCode.INVALID_ARGUMENT
        )
        first = await report(
            states_pb2.TASK_INSTANCE_STATE_FAILED, exit_code=1, error_message="ValueError: bad row"
        )
        assert first.acknowledged and not first.should_terminate
        assert (await report(states_pb2.TASK_INSTANCE_STATE_FAILED)).acknowledged
        for late in (
            states_pb2.TASK_INSTANCE_STATE_SUCCESS,
            states_pb2.TASK_INSTANCE_STATE_SKIPPED,
            states_pb2.TASK_INSTANCE_STATE_RUNNING,
        ):
            assert await _code(report(late)) == grpc.StatusCode.FAILED_PRECONDITION

    failed = await harness.wait_event(name, TI.FAILED)
    assert failed.failure_kind == states_pb2.FAILURE_KIND_USER_ERROR  # unspecified after running
    assert failed.exit_code == 1 and failed.error_message == "ValueError: bad row"
    assert [e.state for e in harness.events_of(name)] == [
        TI.RUNNING.to_proto(),
        TI.FAILED.to_proto(),
    ]
    assert harness.envelope_ids.count(f"{name}/running") == 1


async def test_failed_before_running_is_an_infrastructure_failure_unless_the_agent_says_otherwise(
    harness,
):
    await harness.start()
    execution, name = await _idle_execution(harness, "setup_fails")
    channel, stub = harness.agent(harness.token(execution))
    async with channel:
        reply = await stub.ReportState(
            agent_pb2.ReportStateRequest(
                state=states_pb2.TASK_INSTANCE_STATE_FAILED,
                error_message="could not pull upstream XComs",
            )
        )
    assert reply.acknowledged
    failed = await harness.wait_event(name, TI.FAILED)
    assert failed.failure_kind == states_pb2.FAILURE_KIND_INFRASTRUCTURE
    assert harness.events_of(name, TI.RUNNING) == []


async def test_report_copies_what_the_agent_said_into_the_event(harness):
    await harness.start()
    execution, name = await _idle_execution(harness, "choose")
    channel, stub = harness.agent(harness.token(execution))
    request = agent_pb2.ReportStateRequest(
        state=states_pb2.TASK_INSTANCE_STATE_SUCCESS,
        hostname="worker-7",
        pid=4242,
        rendered_map_index="eu-west",
        follow_task_ids=["branch_a", "branch_c"],
        branch_decided=True,
        skip_downstream=True,
        mapped_lengths={"return_value": 3},
    )
    request.rendered_fields.update({"templates_dict": {"day": "2026-01-01"}})
    request.occurred_at.FromSeconds(1_800_000_000)
    async with channel:
        await stub.ReportState(
            agent_pb2.ReportStateRequest(state=states_pb2.TASK_INSTANCE_STATE_RUNNING)
        )
        await stub.ReportState(request)

    success = await harness.wait_event(name, TI.SUCCESS)
    assert (success.hostname, success.pid) == ("worker-7", 4242)
    assert success.rendered_map_index == "eu-west"
    assert list(success.follow_task_ids) == ["branch_a", "branch_c"]
    assert success.branch_decided and success.skip_downstream
    assert dict(success.mapped_lengths) == {"return_value": 3}
    assert success.rendered_fields["templates_dict"]["day"] == "2026-01-01"
    assert success.occurred_at.seconds == 1_800_000_000
    assert success.execution_name == name and success.key == execution.key


async def test_register_refuses_an_unknown_protocol_version(harness):
    await harness.start()
    execution, _ = await _idle_execution(harness, "future_agent")
    channel, stub = harness.agent(harness.token(execution))
    async with channel:
        code = await _code(stub.Register(agent_pb2.RegisterRequest(protocol_version=2)))
        assert code == grpc.StatusCode.FAILED_PRECONDITION
        reply = await stub.Register(
            agent_pb2.RegisterRequest(protocol_version=1, hostname="h", pid=1)
        )
    assert reply.server_time.seconds > 0
