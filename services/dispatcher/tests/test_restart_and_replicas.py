"""A dispatcher restarting next to its running agents, several replicas sharing
one work queue, and a bus that refuses events for a while."""

from __future__ import annotations

import os
import signal

import grpc
import pytest
from leoflow_common.errors import FailedPrecondition, Unavailable
from leoflow_common.states import TaskInstanceState
from leoflow_common.testing import assert_eventually, free_port
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dispatcher.v1 import agent_pb2

TI = TaskInstanceState


async def test_restarted_dispatcher_adopts_its_running_agent_and_ignores_the_redelivery(harness):
    bind = f"127.0.0.1:{free_port()}"
    first = await harness.start(grpc_bind=bind, stop_executions_on_shutdown=False)
    release = harness.paths.records / "release"
    execution = harness.execution(
        "long", mode="run_until_told", env={"DOUBLE_RELEASE_FILE": str(release)}
    )
    name = await harness.dispatch(execution)
    await harness.wait_event(name, TI.RUNNING)

    await first.stop()
    harness.apps.remove(first)
    agent_pid = harness.records()[0]["pid"]
    assert harness.pid_alive(agent_pid)  # it outlived its dispatcher

    # One slot: the redelivery and the marker after it are handled in order.
    second = await harness.start(grpc_bind=bind, concurrency=1)
    adopted = second.supervisor.get(name)
    assert adopted is not None and adopted.alive and adopted.user_code_started
    await harness.dispatch(execution)  # the request, redelivered
    marker = await harness.dispatch(harness.execution("marker"))
    release.touch()

    await harness.wait_event(name, TI.SUCCESS)
    await harness.wait_event(marker, TI.SUCCESS)
    assert sorted(r["spec"]["key"]["task_id"] for r in harness.records()) == ["long", "marker"]
    assert len(harness.events_of(name, TI.RUNNING)) == 1
    assert len(harness.events_of(name, TI.SUCCESS)) == 1


async def test_agent_that_died_while_the_dispatcher_was_away_is_failed_on_restart(harness):
    first = await harness.start(stop_executions_on_shutdown=False)
    name = await harness.dispatch(harness.execution("long", mode="run_until_told"))
    await harness.wait_event(name, TI.RUNNING)
    await first.stop()
    harness.apps.remove(first)
    agent_pid = harness.records()[0]["pid"]
    os.killpg(agent_pid, signal.SIGKILL)

    async def gone():
        return not harness.pid_alive(agent_pid)

    await assert_eventually(gone)
    await harness.start()

    failed = await harness.wait_event(name, TI.FAILED)
    assert failed.failure_kind == states_pb2.FAILURE_KIND_USER_ERROR
    assert "exit code unknown" in failed.error_message


async def test_two_dispatchers_cannot_share_a_work_dir(harness):
    await harness.start()

    with pytest.raises(FailedPrecondition, match="in use by another dispatcher"):
        await harness.start()


async def test_replicas_share_the_work_queue_and_each_supervises_its_own_agents(harness):
    replicas = [
        await harness.start(work_dir=harness.paths.work_dir / f"replica-{i}", concurrency=2)
        for i in range(2)
    ]
    executions = [harness.execution(f"task_{i}") for i in range(8)]
    names = [await harness.dispatch(execution) for execution in executions]

    for name in names:
        await harness.wait_event(name, TI.SUCCESS)

    records = {r["spec"]["key"]["task_id"]: r for r in harness.records()}
    assert len(harness.records()) == len(names)
    for execution, name in zip(executions, names, strict=True):
        owners = [app for app in replicas if app.supervisor.get(name) is not None]
        assert len(owners) == 1, f"{name} is known to {len(owners)} replicas"
        agent_env = records[execution.key.task_id]["env"]
        assert agent_env["LEOFLOW_AGENT_DISPATCHER_ADDRESS"] == owners[0].advertise_address
        assert len(harness.events_of(name, TI.SUCCESS)) == 1


class FlakyBus:
    """The in-process bus, with publishing switched off while `refusing` (fault injection)."""

    def __init__(self, bus):
        self._bus = bus
        self.refusing = False

    async def publish(self, envelope):
        if self.refusing:
            raise Unavailable("broker unreachable (injected)")
        await self._bus.publish(envelope)

    def __getattr__(self, name):
        return getattr(self._bus, name)


async def test_events_the_bus_refused_are_published_later_in_order_and_once(harness):
    flaky = FlakyBus(harness.bus)
    harness.bus, real_bus = flaky, harness.bus
    try:
        await harness.start()
    finally:
        harness.bus = real_bus
    execution = harness.execution("transform", mode="idle")
    name = await harness.dispatch(execution)
    await harness.wait_record()
    channel, stub = harness.agent(harness.token(execution))
    async with channel:
        flaky.refusing = True
        # RUNNING is answered once journaled (user code waits for that answer); its
        # publication waits in the outbox. A terminal state is answered once published.
        running = agent_pb2.ReportStateRequest(state=states_pb2.TASK_INSTANCE_STATE_RUNNING)
        assert (await stub.ReportState(running)).acknowledged
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ReportState(
                agent_pb2.ReportStateRequest(state=states_pb2.TASK_INSTANCE_STATE_SUCCESS)
            )
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert harness.events_of(name) == []

        flaky.refusing = False
        await harness.wait_event(name, TI.SUCCESS)
        # The agent's retry is answered and changes nothing.
        assert (
            await stub.ReportState(
                agent_pb2.ReportStateRequest(state=states_pb2.TASK_INSTANCE_STATE_SUCCESS)
            )
        ).acknowledged

    assert [e.state for e in harness.events_of(name)] == [
        TI.RUNNING.to_proto(),
        TI.SUCCESS.to_proto(),
    ]
