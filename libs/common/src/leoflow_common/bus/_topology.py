"""Bus topology as code: every exchange, queue, binding and dead-letter queue is
declared here and nowhere else.

One durable topic exchange carries every message; the routing key is the
envelope's type. Work subscriptions are durable queues shared by all replicas of
a service (each message goes to one of them). Broadcast subscriptions give each
replica its own queue (each gets every message). Every queue dead-letters into
"<queue>.dlq" after `max_deliveries` failed attempts.

A namespace prefixes every exchange and queue name ("<namespace>.<name>"), so
stacks (and tests) sharing one broker never see each other's messages.

The `*_declaration` functions below turn the subscriptions into the exact AMQP
entities (names, types, arguments, bindings) the RabbitMQ bus declares; the bus
declares nothing they do not describe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EXCHANGE = "leoflow.events"
DEAD_LETTER_EXCHANGE = "leoflow.dlx"

# Event types (the routing keys). Versioned: a breaking payload change is a new type.
DISPATCH_REQUESTED = "task_instance.dispatch_requested.v1"
TASK_INSTANCE_STATE_CHANGED = "task_instance.state_changed.v1"
TASK_INSTANCES_CLEARED = "task_instances.cleared.v1"
CANCEL_REQUESTED = "task_instance.cancel_requested.v1"
DAG_RUN_STATE_CHANGED = "dag_run.state_changed.v1"


@dataclass(frozen=True, slots=True)
class Subscription:
    queue: str
    # Routing-key patterns (AMQP topic syntax: "*" one word, "#" any words).
    bindings: tuple[str, ...]
    # False: a shared durable work queue. True: one transient queue per subscriber.
    broadcast: bool = False

    def dead_letter_queue(self) -> str:
        return f"{self.queue}.dlq"


class Subscriptions:
    """Every subscription of every service."""

    DISPATCH_REQUESTS = Subscription("leoflow.dispatcher.dispatch_requests", (DISPATCH_REQUESTED,))
    DISPATCHER_CANCELS = Subscription("leoflow.dispatcher.cancels", (CANCEL_REQUESTED,), broadcast=True)
    SCHEDULER_TASK_EVENTS = Subscription("leoflow.scheduler.task_events", (TASK_INSTANCE_STATE_CHANGED,))
    XCOM_PURGE = Subscription("leoflow.xcom.purge", (TASK_INSTANCES_CLEARED,))

    @classmethod
    def all(cls) -> tuple[Subscription, ...]:
        return tuple(v for v in vars(cls).values() if isinstance(v, Subscription))


def topic_matches(pattern: str, key: str) -> bool:
    """AMQP topic matching: words split on ".", "*" = one word, "#" = zero or more."""
    pat, words = pattern.split("."), key.split(".")

    def match(i: int, j: int) -> bool:
        if i == len(pat):
            return j == len(words)
        if pat[i] == "#":
            return any(match(i + 1, k) for k in range(j, len(words) + 1))
        if j == len(words):
            return False
        return (pat[i] == "*" or pat[i] == words[j]) and match(i + 1, j + 1)

    return match(0, 0)


# --- AMQP declarations -------------------------------------------------------------
#
# Queue type choice: work queues and dead-letter queues are *quorum* queues. They
# are replicated and durable (the recommended type for messages that must not be
# lost), and they count deliveries on the broker: every return of a message
# (nack with requeue, or a consumer/channel/connection that went away with the
# message unacked) increments its `x-delivery-count` header. That count is shared
# by every competing consumer and survives consumer crashes, which an in-memory
# counter in one consumer could not be. The consumer reads it to decide when a
# message has had `max_deliveries` attempts and rejects it into the dead-letter
# exchange. We deliberately do not bake `x-delivery-limit` into the queue
# arguments: RabbitMQ refuses to redeclare a queue with different arguments, so a
# change of the max_deliveries setting would then need every queue recreated.
#
# Broadcast queues belong to one subscriber and die with it (exclusive), which
# quorum queues cannot be; they are classic queues. Only their one consumer ever
# sees their messages, so that consumer counts attempts itself.

EXCHANGE_TYPE_TOPIC = "topic"
EXCHANGE_TYPE_DIRECT = "direct"


@dataclass(frozen=True, slots=True)
class ExchangeDeclaration:
    name: str
    type: str
    durable: bool = True


@dataclass(frozen=True, slots=True)
class QueueDeclaration:
    name: str
    # (exchange name, routing key or pattern) pairs.
    bindings: tuple[tuple[str, str], ...]
    arguments: dict[str, Any] = field(default_factory=dict)
    durable: bool = True
    exclusive: bool = False
    auto_delete: bool = False


def namespaced(name: str, namespace: str) -> str:
    """`name` inside `namespace` ("" = the production names, unprefixed)."""
    return f"{namespace}.{name}" if namespace else name


def exchange_declarations(namespace: str) -> tuple[ExchangeDeclaration, ...]:
    """The events exchange (topic, routing key = envelope type) and the
    dead-letter exchange (direct, routing key = the dead-letter queue's name)."""
    return (
        ExchangeDeclaration(namespaced(EXCHANGE, namespace), EXCHANGE_TYPE_TOPIC),
        ExchangeDeclaration(namespaced(DEAD_LETTER_EXCHANGE, namespace), EXCHANGE_TYPE_DIRECT),
    )


def dead_letter_queue_declaration(subscription: Subscription, namespace: str) -> QueueDeclaration:
    """The durable queue where `subscription`'s failed messages wait for an operator."""
    name = namespaced(subscription.dead_letter_queue(), namespace)
    return QueueDeclaration(
        name=name,
        bindings=((namespaced(DEAD_LETTER_EXCHANGE, namespace), name),),
        arguments={"x-queue-type": "quorum"},
    )


def _dead_letter_arguments(subscription: Subscription, namespace: str) -> dict[str, Any]:
    return {
        "x-dead-letter-exchange": namespaced(DEAD_LETTER_EXCHANGE, namespace),
        "x-dead-letter-routing-key": namespaced(subscription.dead_letter_queue(), namespace),
    }


def _event_bindings(subscription: Subscription, namespace: str) -> tuple[tuple[str, str], ...]:
    exchange = namespaced(EXCHANGE, namespace)
    return tuple((exchange, pattern) for pattern in subscription.bindings)


def work_queue_declaration(subscription: Subscription, namespace: str) -> QueueDeclaration:
    """The durable queue every replica of the subscribing service shares."""
    if subscription.broadcast:
        raise ValueError(f"{subscription.queue} is a broadcast subscription; it has no shared queue")
    return QueueDeclaration(
        name=namespaced(subscription.queue, namespace),
        bindings=_event_bindings(subscription, namespace),
        arguments={"x-queue-type": "quorum", **_dead_letter_arguments(subscription, namespace)},
    )


def broadcast_queue_declaration(subscription: Subscription, namespace: str, subscriber_id: str) -> QueueDeclaration:
    """One subscriber's own queue: exclusive to its connection, gone with it."""
    if not subscription.broadcast:
        raise ValueError(f"{subscription.queue} is a work subscription; it has one shared queue")
    return QueueDeclaration(
        name=namespaced(f"{subscription.queue}.{subscriber_id}", namespace),
        bindings=_event_bindings(subscription, namespace),
        arguments={"x-queue-type": "classic", **_dead_letter_arguments(subscription, namespace)},
        durable=False,
        exclusive=True,
        auto_delete=True,
    )


def durable_queue_declarations(namespace: str, subscriptions: tuple[Subscription, ...] | None = None) -> tuple[QueueDeclaration, ...]:
    """Every queue that exists from start() on: each work queue (so messages
    published before a consumer subscribes wait for it) and every dead-letter
    queue, broadcast subscriptions' included."""
    subs = Subscriptions.all() if subscriptions is None else subscriptions
    work = tuple(work_queue_declaration(s, namespace) for s in subs if not s.broadcast)
    return work + tuple(dead_letter_queue_declaration(s, namespace) for s in subs)
