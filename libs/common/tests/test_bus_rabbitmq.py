"""RabbitMQ-specific behaviour of the bus, beyond the shared contract suite
(tests/contract/test_bus_contract.py): what goes on the wire, broker-side
delivery counting, negative confirms, and surviving a cut connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aio_pika
import aiormq
import pytest
from leoflow_common.bus import (
    DAG_RUN_STATE_CHANGED,
    DISPATCH_REQUESTED,
    Subscriptions,
    make_envelope,
)
from leoflow_common.bus._topology import namespaced
from leoflow_common.bus.rabbitmq import RabbitMQBus
from leoflow_common.errors import Unavailable
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1.keys_pb2 import TaskInstanceKey, TaskInstanceTryKey
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution
from leoflow_proto.events.v1 import events_pb2
from leoflow_proto.events.v1.envelope_pb2 import Envelope

WORK = Subscriptions.DISPATCH_REQUESTS
BROADCAST = Subscriptions.DISPATCHER_CANCELS


def dispatch(task: str = "t") -> Envelope:
    execution = TaskExecution(tenant_id="acme", key=TaskInstanceKey(dag_id="d", run_id="r", task_id=task), try_number=1)
    return make_envelope(DISPATCH_REQUESTED, events_pb2.DispatchRequested(execution=execution), tenant_id="acme", producer="rabbitmq-test")


def cancel_request() -> Envelope:
    key = TaskInstanceTryKey(task_instance=TaskInstanceKey(dag_id="d", run_id="r", task_id="t"), try_number=1)
    return make_envelope("task_instance.cancel_requested.v1", events_pb2.CancelRequested(key=key), tenant_id="acme", producer="rabbitmq-test")


@pytest.fixture
async def buses(amqp_url, bus_namespace):
    """`await buses(**kwargs)` -> a started RabbitMQBus in this test's namespace;
    the namespace's queues and exchanges are deleted afterwards."""
    made: list[RabbitMQBus] = []

    async def make(url: str = amqp_url, **kwargs) -> RabbitMQBus:
        bus = RabbitMQBus(url, namespace=bus_namespace, **kwargs)
        made.append(bus)
        await bus.start()
        return bus

    yield make
    for bus in made:
        await bus.close(grace=0)
    cleaner = RabbitMQBus(amqp_url, namespace=bus_namespace)
    await cleaner.delete_topology()
    await cleaner.close()


@pytest.fixture
async def raw_channel(amqp_url):
    """A plain aio-pika channel, to look at what the bus put on the broker."""
    connection = await aio_pika.connect(amqp_url)
    yield await connection.channel()
    await connection.close()


class Recorder:
    def __init__(self, fail_always: bool = False):
        self.attempts: list[str] = []
        self._fail = fail_always

    async def __call__(self, envelope: Envelope) -> None:
        self.attempts.append(envelope.id)
        if self._fail:
            raise RuntimeError("always failing")


async def _truthy(value) -> bool:
    return bool(value)


async def test_messages_are_persistent_protobuf_with_id_and_type_properties(buses, raw_channel, bus_namespace):
    bus = await buses()
    sent = dispatch()

    await bus.publish(sent)

    queue = await raw_channel.get_queue(namespaced(WORK.queue, bus_namespace), ensure=True)
    message = await queue.get(timeout=10)
    await message.ack()
    assert message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert (message.content_type, message.message_id, message.type, message.app_id) == (
        "application/x-protobuf",
        sent.id,
        DISPATCH_REQUESTED,
        "rabbitmq-test",
    )
    assert (message.exchange, message.routing_key) == (bus.exchange_name, DISPATCH_REQUESTED)
    assert Envelope.FromString(message.body) == sent


async def test_a_negative_publisher_confirm_raises_unavailable(buses, raw_channel, bus_namespace):
    bus = await buses()
    # A queue that refuses every message: the broker nacks what is routed to it.
    full = await raw_channel.declare_queue(
        f"{bus_namespace}.always-full", exclusive=True, arguments={"x-max-length": 0, "x-overflow": "reject-publish"}
    )
    await full.bind(bus.exchange_name, DAG_RUN_STATE_CHANGED)
    refused = make_envelope(DAG_RUN_STATE_CHANGED, events_pb2.DagRunStateChanged(), tenant_id="acme", producer="rabbitmq-test")

    with pytest.raises(Unavailable, match="refused"):
        await bus.publish(refused)


async def test_competing_consumers_share_one_delivery_count(buses):
    bus = await buses(max_deliveries=4)
    first, second = Recorder(fail_always=True), Recorder(fail_always=True)
    await bus.subscribe(WORK, first)
    await bus.subscribe(WORK, second)
    poison = dispatch("poison")

    await bus.publish(poison)

    dead: list[Envelope] = []

    async def dead_lettered():
        dead.extend(await bus.dead_letters(WORK))
        return dead

    await assert_eventually(dead_lettered)
    assert dead == [poison]
    # Four attempts in all, whichever consumer made them.
    assert len(first.attempts) + len(second.attempts) == 4


async def test_a_message_that_never_completes_is_dead_lettered_without_running_again(buses):
    bus = await buses(max_deliveries=2)
    poison = dispatch("kills-its-consumer")

    # Two consumers in turn are stopped mid-handler (as a crash would): each
    # return counts as a delivery on the broker.
    await bus.publish(poison)
    for _ in range(2):
        started = asyncio.Event()

        async def stuck(envelope: Envelope, started=started) -> None:
            started.set()
            await asyncio.Event().wait()

        consumer = await bus.subscribe(WORK, stuck)
        await assert_eventually(lambda started=started: _truthy(started.is_set()))
        await consumer.cancel(grace=0)

    third = Recorder()
    await bus.subscribe(WORK, third)
    dead: list[Envelope] = []

    async def dead_lettered():
        dead.extend(await bus.dead_letters(WORK))
        return dead

    await assert_eventually(dead_lettered)
    assert dead == [poison]
    marker = dispatch("marker")
    await bus.publish(marker)
    await assert_eventually(lambda: _truthy(marker.id in third.attempts))
    assert third.attempts == [marker.id]


async def test_a_body_that_is_not_an_envelope_is_dead_lettered_untouched(buses, raw_channel, bus_namespace):
    bus = await buses()
    handled = Recorder()
    await bus.subscribe(WORK, handled)
    exchange = await raw_channel.get_exchange(bus.exchange_name)

    await exchange.publish(aio_pika.Message(b"\xff not protobuf", message_id="garbage-1"), routing_key=DISPATCH_REQUESTED)

    dlq = await raw_channel.get_queue(namespaced(WORK.dead_letter_queue(), bus_namespace), ensure=True)

    async def dead_lettered():
        return await dlq.get(fail=False)

    message = await assert_eventually(dead_lettered)
    await message.ack()
    assert (message.message_id, message.body) == ("garbage-1", b"\xff not protobuf")
    assert handled.attempts == []


async def test_broadcast_queue_lives_as_long_as_its_subscriber(buses, raw_channel, caplog):
    bus = await buses()
    started, release, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def slow(envelope: Envelope) -> None:
        started.set()
        await release.wait()
        finished.set()

    consumer = await bus.subscribe(BROADCAST, slow)
    queue_name = consumer._queue.name
    await bus.publish(cancel_request())
    await assert_eventually(lambda: _truthy(started.is_set()))

    with caplog.at_level(logging.WARNING, logger="leoflow_common.bus"):
        cancelling = asyncio.create_task(consumer.cancel())
        # Let basic.cancel reach the broker (which then auto-deletes the queue)
        # while the handler still holds its message: broker round trips.
        unrouted = make_envelope(DAG_RUN_STATE_CHANGED, events_pb2.DagRunStateChanged(), tenant_id="acme", producer="rabbitmq-test")
        for _ in range(10):
            await bus.publish(unrouted)
        assert not cancelling.done()
        release.set()
        await cancelling

    assert finished.is_set()
    assert not [r for r in caplog.records if "could not" in r.getMessage()], "the in-flight message was not settled cleanly"
    with pytest.raises(aiormq.exceptions.ChannelNotFoundEntity):
        await raw_channel.get_queue(queue_name, ensure=True)


async def _proxy(listen_port: int, target_port: int):
    """A TCP proxy to the broker whose connections the test can cut."""
    links: set[asyncio.StreamWriter] = set()

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.CancelledError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.close()

    async def on_client(client_reader, client_writer):
        broker_reader, broker_writer = await asyncio.open_connection("127.0.0.1", target_port)
        links.update((client_writer, broker_writer))
        await asyncio.gather(pipe(client_reader, broker_writer), pipe(broker_reader, client_writer))

    server = await asyncio.start_server(on_client, "127.0.0.1", listen_port)
    return server, links


async def test_publishing_fails_fast_during_an_outage_and_consuming_resumes_after_it(buses, amqp_url):
    broker_port = aio_pika.connection.make_url(amqp_url).port or 5672
    server, links = await _proxy(0, broker_port)
    port = server.sockets[0].getsockname()[1]
    url = f"amqp://guest:guest@127.0.0.1:{port}/"
    bus = await buses(url, publish_timeout=2, reconnect_interval=0.2)
    handled = Recorder()
    await bus.subscribe(WORK, handled)
    doomed = await bus.subscribe(BROADCAST, Recorder())

    # The broker becomes unreachable: no new connections, established ones cut.
    server.close()
    await server.wait_closed()
    for writer in list(links):
        writer.transport.abort()
    with pytest.raises(Unavailable):
        await bus.publish(dispatch("during-outage"))
    with pytest.raises(Unavailable):
        await bus.dead_letters(WORK)
    await doomed.cancel()  # returns: stopping a consumer never waits for the broker

    # It comes back on the same address: the robust connection restores the
    # publisher and the consumer on its own.
    server, links = await _proxy(port, broker_port)
    try:
        after = dispatch("after-outage")

        async def published():
            try:
                await bus.publish(after)
            except Unavailable:
                return False
            return True

        await assert_eventually(published, timeout=30)
        await assert_eventually(lambda: _truthy(after.id in handled.attempts), timeout=30)
    finally:
        await bus.close(grace=0)
        server.close()
        for writer in list(links):
            writer.transport.abort()
