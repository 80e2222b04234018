"""Continuing a DagRun's trace in work that no request or message started (the
leader's run starter and retry timer), so a run reads as one trace from its
trigger to its last task."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from leoflow_common.telemetry import extract_trace_context
from opentelemetry import context as otel_context
from opentelemetry import trace


@contextmanager
def continue_run_trace(trace_context: dict[str, str] | None) -> Iterator[None]:
    """Make the run's trace current unless a span already is (a consumer's span
    continuing the dispatcher's message takes precedence)."""
    if not trace_context or trace.get_current_span().get_span_context().is_valid:
        yield
        return
    token = otel_context.attach(extract_trace_context(trace_context))
    try:
        yield
    finally:
        otel_context.detach(token)
