"""The message bus: one interface, two implementations (RabbitMQ for the stack,
in-process for Lite), one contract test suite for both.

Commands that must not be lost travel here. Every message is an `Envelope` whose
id is the idempotency key; handlers are called at least once and must be
idempotent on it; a message is acknowledged only after its handler returned (that
is, after the handler's transaction committed); a message whose handler keeps
failing goes to the subscription's dead-letter queue.
"""

from ._envelope import EVENT_TYPES, decode_payload, make_envelope
from ._interface import Bus, Consumer, Handler
from ._topology import (
    CANCEL_REQUESTED,
    DAG_RUN_STATE_CHANGED,
    DISPATCH_REQUESTED,
    TASK_INSTANCE_STATE_CHANGED,
    TASK_INSTANCES_CLEARED,
    Subscription,
    Subscriptions,
)
from .inprocess import InProcessBus


def create_bus(url: str, *, namespace: str = "", max_deliveries: int = 5) -> Bus:
    """The bus for `url`: "amqp://..." -> RabbitMQ, "memory://" -> in-process."""
    if url.startswith("memory:"):
        return InProcessBus(namespace=namespace, max_deliveries=max_deliveries)
    if url.startswith(("amqp://", "amqps://")):
        from .rabbitmq import RabbitMQBus

        return RabbitMQBus(url, namespace=namespace, max_deliveries=max_deliveries)
    raise ValueError(f"unsupported bus URL scheme: {url.split(':', 1)[0]!r} (use amqp:// or memory://)")


__all__ = [
    "Bus",
    "CANCEL_REQUESTED",
    "Consumer",
    "DAG_RUN_STATE_CHANGED",
    "DISPATCH_REQUESTED",
    "EVENT_TYPES",
    "Handler",
    "InProcessBus",
    "Subscription",
    "Subscriptions",
    "TASK_INSTANCES_CLEARED",
    "TASK_INSTANCE_STATE_CHANGED",
    "create_bus",
    "decode_payload",
    "make_envelope",
]
