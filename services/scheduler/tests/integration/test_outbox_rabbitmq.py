"""The outbox relay through a real RabbitMQ broker: dispatch requests reach the
dispatcher's queue with the outbox row id as envelope id (publisher-confirmed),
and the scheduler consumes the dispatcher's reports from RabbitMQ."""

import uuid

from leoflow_common.bus import Subscriptions, create_bus, decode_payload
from leoflow_common.settings import BusSettings
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1 import states_pb2
from leoflow_scheduler.loops.outbox_relay import OutboxRelay


async def test_relay_publishes_through_rabbitmq(
    make_scheduler, amqp_url, bus_namespace, spec_builder
):
    scheduler = await make_scheduler(
        own_bus=True, listen=False, bus=BusSettings(url=amqp_url, namespace=bus_namespace)
    )
    dispatcher_bus = create_bus(amqp_url, namespace=bus_namespace)
    await dispatcher_bus.start()
    received = []

    async def dispatcher(envelope):
        received.append(envelope)

    consumer = await dispatcher_bus.subscribe(Subscriptions.DISPATCH_REQUESTS, dispatcher)
    try:
        await scheduler.register(spec_builder("rabbit", {"a": [], "b": ["a"]}))
        run = await scheduler.trigger("rabbit")
        await assert_eventually(
            lambda: _count(received, 1), timeout=15, message="dispatch of a over RabbitMQ"
        )

        async def marked_published():
            async with scheduler.app.ctx.pool.acquire() as conn:
                return await conn.fetchrow(
                    "SELECT id FROM outbox WHERE event_type = $1 AND published_at IS NOT NULL",
                    received[0].type,
                )

        row = await assert_eventually(marked_published)
        assert uuid.UUID(received[0].id) == row["id"]

        # The dispatcher's reports come back over RabbitMQ and drive the run on.
        scheduler.bus = dispatcher_bus
        scheduler.dispatches = [_decode(e) for e in received]
        a = await scheduler.dispatched("a")
        await scheduler.run_to_success(a)
        await assert_eventually(
            lambda: _count(received, 2), timeout=15, message="dispatch of b over RabbitMQ"
        )
        b = _decode(received[1]).execution
        assert b.key.task_id == "b" and b.key.run_id == run.run_id

        # Publishing again what was already published (a crash before marking) is a
        # duplicate with the same envelope id, which consumers ignore.
        async with scheduler.app.ctx.pool.acquire() as conn:
            await conn.execute(
                "UPDATE outbox SET published_at = NULL WHERE event_type = $1", received[0].type
            )
        await OutboxRelay(scheduler.app.ctx, scheduler.app.bus).run_once()
        await assert_eventually(
            lambda: _count(received, 4), timeout=15, message="republished dispatches"
        )
        assert [e.id for e in received[2:]] == [e.id for e in received[:2]]
        await scheduler.report(b, states_pb2.TASK_INSTANCE_STATE_SUCCESS)
        await scheduler.wait_run_state("rabbit", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)
    finally:
        await consumer.cancel()
        await dispatcher_bus.close()


def _decode(envelope):
    return decode_payload(envelope)


async def _count(items, n):
    return len(items) >= n
