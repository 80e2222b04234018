"""One subscriber of the RabbitMQ bus.

Invariants:
- Each consumer has a channel of its own, so its prefetch (= concurrency) bounds
  its own handlers only, and closing that channel returns exactly its unacked
  messages to the queue.
- A message is acked only after its handler returned. A handler exception nacks
  it back to the queue; on its max_deliveries-th attempt it is rejected instead,
  which the queue dead-letters into "<queue>.dlq".
- Attempts are counted by the broker for work (quorum) queues: `x-delivery-count`
  is the number of earlier deliveries that were returned, by a nack or by a
  consumer that went away. Broadcast (classic, exclusive) queues have no such
  header, but only this consumer ever reads them, so it counts for itself.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable

from aio_pika.abc import (
    AbstractChannel,
    AbstractIncomingMessage,
    AbstractQueue,
    AbstractRobustConnection,
)
from google.protobuf.message import DecodeError
from leoflow_proto.events.v1.envelope_pb2 import Envelope

from ._amqp import CONNECTION_ERRORS, declare_exchange, declare_queue
from ._interface import Handler
from ._metrics import ACKED, DEAD_LETTERED, INTERRUPTED, RETRIED, count_delivery, timed_handler
from ._topology import (
    Subscription,
    broadcast_queue_declaration,
    exchange_declarations,
    work_queue_declaration,
)
from ._tracing import handler_span

log = logging.getLogger(__name__)

DELIVERY_COUNT_HEADER = "x-delivery-count"
# Upper bound for the broker calls cancel() makes, so that stopping a consumer
# during an outage cannot hang.
BROKER_CALL_TIMEOUT = 5.0


class RabbitMQConsumer:
    """Use `RabbitMQConsumer.start(...)`; `cancel()` to stop."""

    def __init__(self, *, channel: AbstractChannel, queue: AbstractQueue, subscription: Subscription, handler: Handler, max_deliveries: int, on_cancelled: Callable[[RabbitMQConsumer], None]):
        self._channel = channel
        self._queue = queue
        self._subscription = subscription
        self._handler = handler
        self._max_deliveries = max_deliveries
        self._on_cancelled = on_cancelled
        self._consumer_tag: str | None = None
        self._stopping = False
        self._in_flight: set[asyncio.Task] = set()
        # Broadcast queues only: failed attempts per message id.
        self._local_attempts: dict[str, int] = {}

    @classmethod
    async def start(cls, *, connection: AbstractRobustConnection, namespace: str, subscription: Subscription, handler: Handler, concurrency: int, max_deliveries: int, on_cancelled: Callable[[RabbitMQConsumer], None]) -> RabbitMQConsumer:
        channel = await connection.channel()
        try:
            await channel.set_qos(prefetch_count=concurrency)
            # Declared again on this channel (idempotent) so that aio-pika's robust
            # channel restores exchange, queue, bindings and consumer after a reconnect.
            for exchange in exchange_declarations(namespace):
                await declare_exchange(channel, exchange)
            if subscription.broadcast:
                declaration = broadcast_queue_declaration(subscription, namespace, uuid.uuid4().hex[:12])
            else:
                declaration = work_queue_declaration(subscription, namespace)
            queue = await declare_queue(channel, declaration)
            consumer = cls(channel=channel, queue=queue, subscription=subscription, handler=handler, max_deliveries=max_deliveries, on_cancelled=on_cancelled)
            consumer._consumer_tag = await queue.consume(consumer._on_message)
        except BaseException:
            await channel.close()
            raise
        return consumer

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        if self._stopping:
            # Delivered between our basic.cancel and the broker's cancel-ok: leave
            # it unacked; closing the channel returns it to the queue.
            return
        task = asyncio.current_task()
        self._in_flight.add(task)
        try:
            await self._process(message)
        finally:
            self._in_flight.discard(task)

    def _attempt(self, message: AbstractIncomingMessage) -> int:
        if self._subscription.broadcast:
            return self._local_attempts.get(_key(message), 0) + 1
        returned = (message.headers or {}).get(DELIVERY_COUNT_HEADER)
        return (returned if isinstance(returned, int) else 0) + 1

    async def _process(self, message: AbstractIncomingMessage) -> None:
        queue = self._subscription.queue
        attempt = self._attempt(message)
        try:
            envelope = Envelope.FromString(message.body)
        except DecodeError:
            log.error("dead-lettering message %s on %s: the body is not a leoflow Envelope", message.message_id, queue)
            await self._settle(message, "reject")
            count_delivery(queue, DEAD_LETTERED)
            return
        if attempt > self._max_deliveries:
            # Earlier deliveries ended without a verdict (the consumer died or was
            # interrupted each time): a message that keeps killing its consumer.
            log.error("dead-lettering %s %s on %s: delivered %d times without completing", envelope.type, envelope.id, queue, attempt - 1)
            await self._settle(message, "reject")
            count_delivery(queue, DEAD_LETTERED)
            return
        try:
            with timed_handler(queue), handler_span("rabbitmq", self._subscription, envelope, attempt):
                await self._handler(envelope)
        except asyncio.CancelledError:
            # Left unacked: closing the channel returns the message to the queue.
            count_delivery(queue, INTERRUPTED)
            raise
        except Exception:  # noqa: BLE001 - any handler failure means "redeliver"
            if attempt >= self._max_deliveries:
                log.exception("dead-lettering %s %s on %s after %d attempts", envelope.type, envelope.id, queue, attempt)
                await self._settle(message, "reject")
                count_delivery(queue, DEAD_LETTERED)
            else:
                log.warning("handler failed for %s %s on %s (attempt %d), redelivering", envelope.type, envelope.id, queue, attempt, exc_info=True)
                await self._settle(message, "nack")
                count_delivery(queue, RETRIED)
            return
        await self._settle(message, "ack")
        count_delivery(queue, ACKED)

    async def _settle(self, message: AbstractIncomingMessage, verdict: str) -> None:
        if self._subscription.broadcast:
            if verdict == "nack":
                self._local_attempts[_key(message)] = self._local_attempts.get(_key(message), 0) + 1
            else:
                self._local_attempts.pop(_key(message), None)
        settle: Callable[[], Awaitable[None]] = {
            "ack": message.ack,
            "nack": lambda: message.nack(requeue=True),
            "reject": lambda: message.reject(requeue=False),
        }[verdict]
        try:
            await settle()
        except CONNECTION_ERRORS as exc:
            # The channel is gone (connection lost): the broker has already put the
            # message back and will deliver it again; handlers are idempotent.
            log.warning("could not %s message %s on %s (%s); it will be redelivered", verdict, message.message_id, self._subscription.queue, exc)

    async def cancel(self, *, grace: float | None = None) -> None:
        """See Consumer.cancel."""
        if self._stopping:
            return
        self._stopping = True
        pending: set[asyncio.Task] = set(self._in_flight)
        try:
            try:
                # Bounded: during an outage the robust channel would wait for the
                # reconnection; closing the channel below stops deliveries anyway.
                async with asyncio.timeout(BROKER_CALL_TIMEOUT):
                    await self._queue.cancel(self._consumer_tag)
            except (TimeoutError, *CONNECTION_ERRORS) as exc:
                log.warning("basic.cancel on %s failed (%s); closing its channel instead", self._subscription.queue, str(exc) or "timeout")
            pending = set(self._in_flight)
            if pending:
                _, pending = await asyncio.wait(pending, timeout=grace)
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            # Closing the channel returns every message still unacked on it.
            try:
                async with asyncio.timeout(BROKER_CALL_TIMEOUT):
                    await self._channel.close()
            except (TimeoutError, *CONNECTION_ERRORS) as exc:
                log.debug("closing the channel of %s failed: %s", self._subscription.queue, exc)
            self._on_cancelled(self)


def _key(message: AbstractIncomingMessage) -> str:
    return message.message_id or str(message.delivery_tag)
