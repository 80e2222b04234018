"""The RabbitMQ bus (the multi-process stack and production).

Invariants:
- Everything declared comes from _topology: the events topic exchange (routing
  key = envelope type), the dead-letter exchange, one durable quorum queue per
  work subscription and per dead-letter queue (all declared at start(), so a
  message published before its consumer subscribes waits for it), and one
  exclusive classic queue per broadcast subscriber.
- publish() returns only once the broker confirmed the message (publisher
  confirms, persistent delivery mode); anything else within `publish_timeout`
  raises Unavailable. A message is never reported published when it was not.
- One robust connection: after a broker restart or network cut aio-pika
  reconnects and restores channels, queues, bindings and consumers. Publishing
  while disconnected fails with Unavailable rather than waiting unboundedly.
"""

from __future__ import annotations

import asyncio
import logging

import aio_pika
import aiormq
from aio_pika.abc import AbstractExchange, AbstractRobustChannel, AbstractRobustConnection
from aio_pika.connection import make_url
from google.protobuf.message import DecodeError
from leoflow_proto.events.v1.envelope_pb2 import Envelope

from .. import spine_trace
from ..errors import Unavailable
from ._amqp import CONNECTION_ERRORS, declare_exchange, declare_queue, redacted, to_message
from ._interface import Handler
from ._metrics import PUBLISH_FAILURES, PUBLISHED
from ._rabbitmq_consumer import RabbitMQConsumer
from ._topology import (
    EXCHANGE,
    Subscription,
    dead_letter_queue_declaration,
    durable_queue_declarations,
    exchange_declarations,
    namespaced,
)

log = logging.getLogger(__name__)


class RabbitMQBus:
    def __init__(
        self,
        url: str,
        *,
        namespace: str = "",
        max_deliveries: int = 5,
        connect_timeout: float = 10.0,
        publish_timeout: float = 10.0,
        reconnect_interval: float = 5.0,
    ):
        if max_deliveries < 1:
            raise ValueError("max_deliveries must be at least 1")
        self.namespace = namespace
        self.max_deliveries = max_deliveries
        self._url = url
        self._connect_timeout = connect_timeout
        self._publish_timeout = publish_timeout
        self._reconnect_interval = reconnect_interval
        self._connection: AbstractRobustConnection | None = None
        self._publisher: AbstractRobustChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._consumers: set[RabbitMQConsumer] = set()
        self._start_lock = asyncio.Lock()
        self._closed = False

    # --- lifecycle -------------------------------------------------------------

    async def start(self) -> None:
        """Connect, declare the topology and open the publishing channel
        (idempotent; publish/subscribe call it too). Unavailable when the broker
        cannot be reached within `connect_timeout`."""
        async with self._start_lock:
            if self._closed:
                raise Unavailable("the bus is closed")
            if self._exchange is not None:
                return
            connection = await self._connect()
            try:
                await self._declare_topology(connection)
                # A robust channel with confirms: publish() waits for the broker's ack.
                publisher = await connection.channel(publisher_confirms=True)
                events, _ = exchange_declarations(self.namespace)
                exchange = await declare_exchange(publisher, events)
            except BaseException:
                await connection.close()
                raise
            self._connection, self._publisher, self._exchange = connection, publisher, exchange

    async def _connect(self) -> AbstractRobustConnection:
        # Built by hand rather than with aio_pika.connect_robust so that a failed
        # first attempt can be closed: otherwise its reconnection task would go
        # on retrying in the background forever.
        connection = aio_pika.RobustConnection(
            make_url(self._url),
            client_properties={"connection_name": f"leoflow:{self.namespace or 'default'}"},
            reconnect_interval=self._reconnect_interval,
        )
        try:
            async with asyncio.timeout(self._connect_timeout):
                await connection.connect(timeout=self._connect_timeout)
            return connection
        except BaseException as exc:
            await connection.close()
            if isinstance(exc, (TimeoutError, *CONNECTION_ERRORS)):
                raise Unavailable(f"RabbitMQ at {redacted(self._url)} is unreachable: {str(exc) or f'no answer within {self._connect_timeout}s'}") from exc
            raise

    async def _declare_topology(self, connection: AbstractRobustConnection) -> None:
        # A channel of its own: a failed declaration closes the channel it ran on.
        channel = await connection.channel()
        try:
            for exchange in exchange_declarations(self.namespace):
                await declare_exchange(channel, exchange)
            for queue in durable_queue_declarations(self.namespace):
                await declare_queue(channel, queue)
        finally:
            await channel.close()

    async def close(self, *, grace: float | None = None) -> None:
        self._closed = True
        await asyncio.gather(*(consumer.cancel(grace=grace) for consumer in list(self._consumers)))
        if self._connection is not None:
            await self._connection.close()
        self._connection = self._publisher = self._exchange = None

    # --- the Bus interface -----------------------------------------------------

    async def publish(self, envelope: Envelope) -> None:
        try:
            await self._publish_confirmed(envelope)
        except Unavailable:
            PUBLISH_FAILURES.labels(type=envelope.type).inc()
            raise
        PUBLISHED.labels(type=envelope.type).inc()
        if spine_trace.ENABLED:
            spine_trace.mark(f"bus.published:{envelope.type}", spine_trace.envelope_key(envelope))

    async def _publish_confirmed(self, envelope: Envelope) -> None:
        await self.start()
        what = f"{envelope.type} {envelope.id}"
        try:
            async with asyncio.timeout(self._publish_timeout):
                # mandatory=False: an event type no subscription binds is dropped
                # by the broker, not returned as an error.
                await self._exchange.publish(to_message(envelope), routing_key=envelope.type, mandatory=False)
        except TimeoutError as exc:
            raise Unavailable(f"RabbitMQ did not confirm {what} within {self._publish_timeout}s") from exc
        except aiormq.exceptions.DeliveryError as exc:
            raise Unavailable(f"RabbitMQ refused {what} (negative publisher confirm)") from exc
        except CONNECTION_ERRORS as exc:
            raise Unavailable(f"cannot publish {what}: RabbitMQ connection lost ({exc})") from exc

    async def subscribe(self, subscription: Subscription, handler: Handler, *, concurrency: int = 1) -> RabbitMQConsumer:
        await self.start()
        consumer = await RabbitMQConsumer.start(
            connection=self._connection,
            namespace=self.namespace,
            subscription=subscription,
            handler=handler,
            concurrency=max(1, concurrency),
            max_deliveries=self.max_deliveries,
            on_cancelled=self._consumers.discard,
        )
        self._consumers.add(consumer)
        return consumer

    async def dead_letters(self, subscription: Subscription) -> list[Envelope]:
        await self.start()
        try:
            return await self._drain_dead_letters(subscription)
        except (TimeoutError, *CONNECTION_ERRORS) as exc:
            raise Unavailable(f"cannot read the dead letters of {subscription.queue}: {str(exc) or 'RabbitMQ did not answer'}") from exc

    async def _drain_dead_letters(self, subscription: Subscription) -> list[Envelope]:
        async with asyncio.timeout(self._publish_timeout):
            channel = await self._connection.channel()
        try:
            async with asyncio.timeout(self._publish_timeout):
                queue = await declare_queue(channel, dead_letter_queue_declaration(subscription, self.namespace))
            envelopes: list[Envelope] = []
            while (message := await queue.get(no_ack=False, fail=False, timeout=self._publish_timeout)) is not None:
                try:
                    envelopes.append(Envelope.FromString(message.body))
                except DecodeError:
                    # Not an envelope (published by something else): nothing an
                    # operator could replay; say what it was and drop it.
                    log.error("dropping dead letter %s of %s: not a leoflow Envelope (%d bytes)", message.message_id, subscription.queue, len(message.body))
                await message.ack()
            return envelopes
        finally:
            await channel.close()

    # --- for operators and tests ---------------------------------------------

    @property
    def exchange_name(self) -> str:
        """The events exchange of this bus's namespace."""
        return namespaced(EXCHANGE, self.namespace)

    async def delete_topology(self) -> None:
        """Delete this namespace's durable queues (with their messages) and
        exchanges: for tests and for removing a whole stack, never for a
        namespace still in use."""
        await self.start()
        channel = await self._connection.channel()
        try:
            for queue in durable_queue_declarations(self.namespace):
                # Quorum queues refuse the if-unused/if-empty flags.
                await channel.queue_delete(queue.name, if_unused=False, if_empty=False)
            for exchange in exchange_declarations(self.namespace):
                await channel.exchange_delete(exchange.name)
        finally:
            await channel.close()
