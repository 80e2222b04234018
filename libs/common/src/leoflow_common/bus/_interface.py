"""The bus interface both implementations honour (see the package docstring)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from leoflow_proto.events.v1.envelope_pb2 import Envelope

from ._topology import Subscription

Handler = Callable[[Envelope], Awaitable[None]]


class Consumer(Protocol):
    async def cancel(self, *, grace: float | None = None) -> None:
        """Stop receiving; in-flight handlers finish, unacked messages are redelivered.

        `grace` bounds the wait for in-flight handlers (None: as long as they
        take); handlers still running then are interrupted (cancelled) and their
        messages return to the queue for another consumer, as they also do when
        the cancel() call itself is cancelled. On RabbitMQ such an interrupted
        delivery counts toward max_deliveries (the broker counts every return).
        """


class Bus(Protocol):
    async def start(self) -> None:
        """Connect and declare the topology (idempotent)."""

    async def close(self, *, grace: float | None = None) -> None:
        """Cancel every consumer (with `grace`, see Consumer.cancel) and disconnect."""

    async def publish(self, envelope: Envelope) -> None:
        """Route by envelope.type. Returns once the broker has the message durably
        (publisher confirm); raises leoflow_common.errors.Unavailable if it could
        not take it within a bounded time. A type no subscription binds is
        dropped by the broker (events nobody listens to are not an error)."""

    async def subscribe(self, subscription: Subscription, handler: Handler, *, concurrency: int = 1) -> Consumer:
        """Deliver matching messages to `handler`, up to `concurrency` at a time.
        Ack when it returns; on an exception redeliver, and after the bus's
        max_deliveries attempts move the message to the dead-letter queue."""

    async def dead_letters(self, subscription: Subscription) -> list[Envelope]:
        """Drain and return the subscription's dead-lettered messages (operators, tests).
        A broadcast subscription's subscribers share one dead-letter queue."""
