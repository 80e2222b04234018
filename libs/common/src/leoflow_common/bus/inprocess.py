"""The in-process bus (Lite): the same semantics as RabbitMQ inside one event loop.

Work queues exist from start() on, so messages published before a consumer
subscribes wait for it, as they would in a durable queue. Messages are copied
through their serialized form so a handler never shares an object with the
publisher. Nothing survives the process: Lite's durability comes from the
scheduler's outbox, which republishes whatever was not yet handled.

Each consumer runs `concurrency` worker tasks; a worker takes one message at a
time, so at most `concurrency` handlers of a consumer are in flight, the way
RabbitMQ's prefetch bounds them.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from leoflow_proto.events.v1.envelope_pb2 import Envelope

from .. import spine_trace
from ._interface import Handler
from ._metrics import (
    ACKED,
    DEAD_LETTERED,
    INTERRUPTED,
    PUBLISHED,
    RETRIED,
    count_delivery,
    timed_handler,
)
from ._topology import Subscription, Subscriptions, topic_matches
from ._tracing import handler_span

log = logging.getLogger(__name__)


@dataclass
class _Delivery:
    data: bytes
    # Attempts that ended with a verdict (handler returned or raised).
    attempts: int = 0


@dataclass
class _Queue:
    subscription: Subscription
    items: asyncio.Queue = field(default_factory=asyncio.Queue)


class _InProcessConsumer:
    def __init__(self, bus: InProcessBus, queue: _Queue, handler: Handler, concurrency: int, owns_queue: bool):
        self._bus = bus
        self._queue = queue
        self._handler = handler
        self._owns_queue = owns_queue
        self._stopping = False
        # Workers waiting for a message (as opposed to running a handler).
        self._idle: set[asyncio.Task] = set()
        self._tasks = [asyncio.create_task(self._work(), name=f"bus:{queue.subscription.queue}") for _ in range(concurrency)]

    async def _work(self) -> None:
        me = asyncio.current_task()
        while not self._stopping:
            self._idle.add(me)
            try:
                delivery: _Delivery = await self._queue.items.get()
            finally:
                self._idle.discard(me)
            await self._deliver(delivery)

    async def _deliver(self, delivery: _Delivery) -> None:
        attempt = delivery.attempts + 1
        envelope = Envelope.FromString(delivery.data)
        queue = self._queue.subscription.queue
        try:
            with timed_handler(queue), handler_span("inprocess", self._queue.subscription, envelope, attempt):
                await self._handler(envelope)
        except asyncio.CancelledError:
            # Interrupted, not failed: the message goes back for another consumer
            # and the attempt does not count.
            self._queue.items.put_nowait(delivery)
            count_delivery(queue, INTERRUPTED)
            raise
        except Exception:  # noqa: BLE001 - any handler failure means "redeliver"
            delivery.attempts = attempt
            if attempt >= self._bus.max_deliveries:
                log.exception("dead-lettering %s %s after %d attempts", envelope.type, envelope.id, attempt)
                self._bus._dead[queue].append(delivery.data)
                count_delivery(queue, DEAD_LETTERED)
            else:
                log.warning("handler failed for %s %s (attempt %d), redelivering", envelope.type, envelope.id, attempt, exc_info=True)
                self._queue.items.put_nowait(delivery)
                count_delivery(queue, RETRIED)
        else:
            count_delivery(queue, ACKED)

    async def cancel(self, *, grace: float | None = None) -> None:
        if self._stopping:
            return
        self._stopping = True
        # Idle workers hold no message; they stop at once.
        for task in self._idle:
            task.cancel()
        pending: set[asyncio.Task] = set(self._tasks)
        try:
            # Busy workers finish their current message, then see _stopping and exit.
            _, pending = await asyncio.wait(self._tasks, timeout=grace)
        finally:
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._owns_queue:
                self._bus._broadcast.remove(self._queue)
            self._bus._consumers.discard(self)


class InProcessBus:
    def __init__(self, *, namespace: str = "", max_deliveries: int = 5):
        if max_deliveries < 1:
            raise ValueError("max_deliveries must be at least 1")
        # One bus object is one namespace: buses never share queues.
        self.namespace = namespace
        self.max_deliveries = max_deliveries
        self._work: dict[str, _Queue] = {}
        self._broadcast: list[_Queue] = []
        # Dead letters per subscription queue name (a broadcast subscription's
        # subscribers share one list, as they share one DLQ on RabbitMQ).
        self._dead: defaultdict[str, list[bytes]] = defaultdict(list)
        self._consumers: set[_InProcessConsumer] = set()

    async def start(self) -> None:
        for sub in Subscriptions.all():
            if not sub.broadcast:
                self._work.setdefault(sub.queue, _Queue(sub))

    async def close(self, *, grace: float | None = None) -> None:
        await asyncio.gather(*(consumer.cancel(grace=grace) for consumer in list(self._consumers)))

    async def publish(self, envelope: Envelope) -> None:
        # A publish before start() must not be lost for want of the work queues.
        await self.start()
        data = envelope.SerializeToString()
        for queue in (*self._work.values(), *self._broadcast):
            if any(topic_matches(p, envelope.type) for p in queue.subscription.bindings):
                queue.items.put_nowait(_Delivery(data))
        PUBLISHED.labels(type=envelope.type).inc()
        if spine_trace.ENABLED:
            spine_trace.mark(f"bus.published:{envelope.type}", spine_trace.envelope_key(envelope))

    async def subscribe(self, subscription: Subscription, handler: Handler, *, concurrency: int = 1) -> _InProcessConsumer:
        if subscription.broadcast:
            queue = _Queue(subscription)
            self._broadcast.append(queue)
        else:
            queue = self._work.setdefault(subscription.queue, _Queue(subscription))
        consumer = _InProcessConsumer(self, queue, handler, max(1, concurrency), subscription.broadcast)
        self._consumers.add(consumer)
        return consumer

    async def dead_letters(self, subscription: Subscription) -> list[Envelope]:
        dead = self._dead.pop(subscription.queue, [])
        return [Envelope.FromString(d) for d in dead]
