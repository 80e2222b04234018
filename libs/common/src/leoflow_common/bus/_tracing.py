"""The span every delivered message is handled in, for both buses: it continues
the trace recorded in the envelope, so a handler's logs and its outgoing calls
belong to the trace of whatever produced the message."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from leoflow_proto.events.v1.envelope_pb2 import Envelope
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind

from .. import spine_trace
from ..telemetry import extract_trace_context
from ._topology import Subscription

_tracer = trace.get_tracer("leoflow_common.bus")


@contextmanager
def handler_span(system: str, subscription: Subscription, envelope: Envelope, attempt: int) -> Iterator[Span]:
    """A CONSUMER span named "<type> process", child of the producer's span.
    A handler exception is recorded on it and re-raised."""
    with _tracer.start_as_current_span(
        f"{envelope.type} process",
        context=extract_trace_context(envelope),
        kind=SpanKind.CONSUMER,
        attributes={
            "messaging.system": system,
            "messaging.operation": "process",
            "messaging.destination.name": subscription.queue,
            "messaging.message.id": envelope.id,
            "leoflow.event_type": envelope.type,
            "leoflow.tenant_id": envelope.tenant_id,
            "leoflow.delivery_attempt": attempt,
        },
    ) as span:
        if spine_trace.ENABLED:
            spine_trace.mark(f"bus.deliver:{envelope.type}", spine_trace.envelope_key(envelope))
        yield span
        if spine_trace.ENABLED:
            spine_trace.mark(f"bus.handled:{envelope.type}", spine_trace.envelope_key(envelope))
