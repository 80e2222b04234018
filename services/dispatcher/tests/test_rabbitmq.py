"""The dispatcher on the real RabbitMQ bus (its own connection, from its settings):
dispatch requests in, state changes out, cancels broadcast, redeliveries idempotent."""

from __future__ import annotations

import os

import pytest
from leoflow_common.bus import (
    CANCEL_REQUESTED,
    DISPATCH_REQUESTED,
    Subscriptions,
    decode_payload,
    make_envelope,
)
from leoflow_common.bus.rabbitmq import RabbitMQBus
from leoflow_common.settings import BusSettings
from leoflow_common.states import TaskInstanceState
from leoflow_common.testing import assert_eventually
from leoflow_dispatcher import DispatcherApp
from leoflow_dispatcher.naming import execution_name_of
from leoflow_proto.common.v1.keys_pb2 import TaskInstanceTryKey
from leoflow_proto.events.v1 import events_pb2

TI = TaskInstanceState


@pytest.fixture
async def rabbit(amqp_url, bus_namespace):
    """A client of the broker in this test's namespace, collecting state changes."""
    bus = RabbitMQBus(amqp_url, namespace=bus_namespace)
    await bus.start()
    events: list[events_pb2.TaskInstanceStateChanged] = []

    async def collect(envelope):
        events.append(decode_payload(envelope))

    await bus.subscribe(Subscriptions.SCHEDULER_TASK_EVENTS, collect)
    yield bus, events
    await bus.delete_topology()
    await bus.close()


async def test_dispatch_and_cancel_over_rabbitmq(harness, rabbit, amqp_url, bus_namespace):
    bus, events = rabbit
    settings = harness.settings(bus=BusSettings(url=amqp_url, namespace=bus_namespace))
    app = DispatcherApp(settings, host_env={"PATH": os.environ.get("PATH", "")})
    await app.start()
    harness.apps.append(app)

    def of(name: str, state: TaskInstanceState):
        return [e for e in events if e.execution_name == name and e.state == state.to_proto()]

    async def published(name: str, state: TaskInstanceState):
        async def check():
            return of(name, state)

        await assert_eventually(check, timeout=30, message=f"{name} -> {state}")

    async def dispatch(execution):
        payload = events_pb2.DispatchRequested(execution=execution)
        await bus.publish(
            make_envelope(
                DISPATCH_REQUESTED, payload, tenant_id=execution.tenant_id, producer="test"
            )
        )
        return execution_name_of(execution)

    quick = harness.execution("quick")
    quick_name = await dispatch(quick)
    await dispatch(quick)  # redelivered
    long = harness.execution("long", mode="run_until_told")
    long_name = await dispatch(long)

    await published(quick_name, TI.SUCCESS)
    await published(long_name, TI.RUNNING)
    key = TaskInstanceTryKey(task_instance=long.key, try_number=long.try_number)
    await bus.publish(
        make_envelope(
            CANCEL_REQUESTED,
            events_pb2.CancelRequested(key=key),
            tenant_id=long.tenant_id,
            producer="test",
        )
    )

    async def cancelled():
        execution = app.supervisor.get(long_name)
        return execution.cancelled and not execution.alive

    await assert_eventually(cancelled, timeout=30)
    assert len(of(quick_name, TI.RUNNING)) == 1 and len(of(quick_name, TI.SUCCESS)) == 1
    assert of(long_name, TI.FAILED) == []
    assert sorted(r["spec"]["key"]["task_id"] for r in harness.records()) == ["long", "quick"]
    # Stopped here, while its exchange and queues still exist.
    await app.stop()
    harness.apps.remove(app)
