"""Bus metrics, the same for both implementations (label `queue` is the
subscription's queue name without namespace)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from ..telemetry import ServiceMetrics

metrics = ServiceMetrics("bus")

PUBLISHED = metrics.counter("published_total", "Messages the bus accepted (RabbitMQ: confirmed by the broker), by event type.", ["type"])
PUBLISH_FAILURES = metrics.counter("publish_failures_total", "Publishes that raised Unavailable, by event type.", ["type"])
DELIVERIES = metrics.counter(
    "deliveries_total",
    "Deliveries by queue and outcome: acked, retried (handler raised, redelivered), "
    "dead_lettered, interrupted (consumer cancelled mid-handler).",
    ["queue", "outcome"],
)
HANDLER_SECONDS = metrics.histogram("handler_seconds", "Time handlers took, by queue (any outcome).", ["queue"])

ACKED, RETRIED, DEAD_LETTERED, INTERRUPTED = "acked", "retried", "dead_lettered", "interrupted"


def count_delivery(queue: str, outcome: str) -> None:
    DELIVERIES.labels(queue=queue, outcome=outcome).inc()


@contextmanager
def timed_handler(queue: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        HANDLER_SECONDS.labels(queue=queue).observe(time.perf_counter() - started)
