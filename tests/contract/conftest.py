"""Fixtures for the bus contract suite: started buses of either implementation,
each in a namespace of its own, torn down (RabbitMQ queues and exchanges
deleted) after the test."""

from __future__ import annotations

import pytest
from leoflow_common.bus import InProcessBus
from leoflow_common.bus.rabbitmq import RabbitMQBus

BUS_KINDS = ("inprocess", "rabbitmq")


@pytest.fixture(params=BUS_KINDS)
def bus_kind(request) -> str:
    return request.param


@pytest.fixture
async def bus_factory(amqp_url, bus_namespace):
    """`await bus_factory(kind, namespace=..., max_deliveries=...)` -> a started bus."""
    made: list = []

    async def make(kind: str, *, namespace: str = bus_namespace, max_deliveries: int = 5):
        if kind == "inprocess":
            bus = InProcessBus(namespace=namespace, max_deliveries=max_deliveries)
        else:
            bus = RabbitMQBus(amqp_url, namespace=namespace, max_deliveries=max_deliveries)
        made.append(bus)
        await bus.start()
        return bus

    yield make
    for bus in made:
        # Interrupt whatever a test left blocked: its messages return to queues
        # that are deleted next.
        await bus.close(grace=0)
        if isinstance(bus, RabbitMQBus):
            cleaner = RabbitMQBus(amqp_url, namespace=bus.namespace)
            await cleaner.delete_topology()
            await cleaner.close()


@pytest.fixture
async def bus(bus_factory, bus_kind):
    """A started bus of each kind (the test runs once per implementation)."""
    return await bus_factory(bus_kind)
