"""W3C trace context in and out of bus envelopes.

An envelope carries the `traceparent` (and `tracestate`) of the span that
produced it in its `trace_context` map; the consumer continues that trace, so one
DagRun can be followed across services. We use the W3C propagator explicitly
rather than the globally configured one: the envelope format is a contract
between services and must not change with an environment variable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from opentelemetry.context import Context
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

_W3C = TraceContextTextMapPropagator()


def inject_trace_context(context: Context | None = None) -> dict[str, str]:
    """The W3C headers of `context` (default: the current one); empty when no
    valid span is active."""
    carrier: dict[str, str] = {}
    _W3C.inject(carrier, context=context)
    return carrier


def extract_trace_context(source: Any) -> Context:
    """The trace context carried by an envelope (or by a plain mapping of W3C
    headers), to be used as the parent of the consumer's span. An absent or
    malformed traceparent yields an empty context (a new trace starts)."""
    carrier: Mapping[str, str] = getattr(source, "trace_context", source)
    return _W3C.extract(dict(carrier))
