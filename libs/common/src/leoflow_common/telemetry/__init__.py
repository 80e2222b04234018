"""Telemetry every service shares: structured logs with trace ids, Prometheus
metrics, OpenTelemetry traces propagated across gRPC calls and bus messages.

A service's composition root calls, once:

    configure_logging("scheduler", settings.telemetry)
    configure_tracing("scheduler", settings.telemetry)
    if settings.telemetry.metrics_port:
        start_metrics_server(settings.telemetry.metrics_port)

and passes `grpc_server_interceptors()` to `start_grpc_server(extra_interceptors=...)`
and `grpc_client_interceptors()` to `client_channel(extra_interceptors=...)`.
Producers of bus messages need nothing more: `make_envelope` records the current
trace context, and both buses run each handler in a span continuing it.
"""

from ._logging import configure_logging
from ._masking import MASK, mask_secrets
from ._metrics import MetricsServer, ServiceMetrics, start_metrics_server
from ._propagation import extract_trace_context, inject_trace_context
from ._tracing import (
    build_tracer_provider,
    configure_tracing,
    grpc_client_interceptors,
    grpc_server_interceptors,
)

__all__ = [
    "MASK",
    "MetricsServer",
    "ServiceMetrics",
    "build_tracer_provider",
    "configure_logging",
    "configure_tracing",
    "extract_trace_context",
    "grpc_client_interceptors",
    "grpc_server_interceptors",
    "inject_trace_context",
    "mask_secrets",
    "start_metrics_server",
]
