"""aio-pika glue for the RabbitMQ bus: declaring what _topology describes, and
mapping envelopes to AMQP messages."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import aio_pika
import aiormq
from aio_pika.abc import AbstractChannel, AbstractExchange, AbstractQueue
from leoflow_proto.events.v1.envelope_pb2 import Envelope

from ..errors import FailedPrecondition
from ._topology import ExchangeDeclaration, QueueDeclaration

CONTENT_TYPE = "application/x-protobuf"

# Errors that mean "the broker or the connection to it is not there right now".
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,
    ConnectionError,
    OSError,
    RuntimeError,  # aio-pika raises it for an operation on a closed connection
)


def redacted(url: str) -> str:
    """`url` without its password, for error messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


async def declare_exchange(channel: AbstractChannel, declaration: ExchangeDeclaration) -> AbstractExchange:
    return await channel.declare_exchange(
        declaration.name, aio_pika.ExchangeType(declaration.type), durable=declaration.durable
    )


async def declare_queue(channel: AbstractChannel, declaration: QueueDeclaration) -> AbstractQueue:
    """Declare the queue and its bindings. An existing queue with other
    arguments is a deployment problem, reported as FailedPrecondition."""
    try:
        queue = await channel.declare_queue(
            declaration.name,
            durable=declaration.durable,
            exclusive=declaration.exclusive,
            auto_delete=declaration.auto_delete,
            arguments=declaration.arguments,
        )
    except aiormq.exceptions.ChannelPreconditionFailed as exc:
        raise FailedPrecondition(
            f"RabbitMQ queue {declaration.name!r} exists with other arguments than {declaration.arguments}: {exc}. "
            "Queue arguments cannot change in place; delete the queue (after draining it) or use another namespace."
        ) from exc
    for exchange, routing_key in declaration.bindings:
        await queue.bind(exchange, routing_key)
    return queue


def to_message(envelope: Envelope) -> aio_pika.Message:
    """The persistent AMQP message carrying `envelope`; its id and type are
    copied into the message properties so operators can read them in the
    broker's tools without decoding protobuf."""
    return aio_pika.Message(
        body=envelope.SerializeToString(),
        content_type=CONTENT_TYPE,
        message_id=envelope.id,
        type=envelope.type,
        app_id=envelope.producer or None,
        timestamp=envelope.occurred_at.ToDatetime() if envelope.HasField("occurred_at") else None,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
    )
