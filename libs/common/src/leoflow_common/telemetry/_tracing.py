"""OpenTelemetry tracing: one SDK tracer provider per process, exporting over
OTLP/gRPC when an endpoint is configured, and the gRPC interceptors that start a
span per call and carry the trace across it.

Without an endpoint the provider still records spans (nothing is exported): trace
ids then still reach log lines and propagate across gRPC and the bus, which is
what makes logs of one DagRun joinable.
"""

from __future__ import annotations

import logging
from typing import Any

from opentelemetry import trace
from opentelemetry.instrumentation.grpc import aio_client_interceptors, aio_server_interceptor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from ..settings import TelemetrySettings

log = logging.getLogger(__name__)


def configure_tracing(service_name: str, settings: TelemetrySettings) -> TracerProvider:
    """Install the process's tracer provider and return it (call `shutdown()` on
    it at exit to flush the exporter).

    OpenTelemetry allows one global provider per process. When one is already
    installed (Lite runs every service in one process; tests configure tracing
    repeatedly) it is returned unchanged, and spans keep the first service name.
    """
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        log.debug("tracing already configured; %s shares the process's provider", service_name)
        return current
    provider = build_tracer_provider(service_name, settings)
    trace.set_tracer_provider(provider)
    return provider


def build_tracer_provider(service_name: str, settings: TelemetrySettings) -> TracerProvider:
    """A tracer provider for `service_name`, exporting to the configured OTLP
    endpoint if any, without installing it globally."""
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: service_name}))
    if settings.otel_exporter_otlp_endpoint:
        provider.add_span_processor(BatchSpanProcessor(_otlp_exporter(settings.otel_exporter_otlp_endpoint)))
    return provider


def _otlp_exporter(endpoint: str):
    # Imported here: the exporter pulls in its generated protos, which only a
    # service that exports needs to load.
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    # Collectors inside a cluster usually speak plaintext gRPC; "https://" asks for TLS.
    return OTLPSpanExporter(endpoint=endpoint, insecure=not endpoint.startswith("https://"))


def grpc_server_interceptors() -> list[Any]:
    """Interceptors for `start_grpc_server(extra_interceptors=...)`: a server span
    per call, continuing the caller's trace."""
    return [aio_server_interceptor()]


def grpc_client_interceptors() -> list[Any]:
    """Interceptors for `client_channel(extra_interceptors=...)`: a client span
    per call, its context sent in the call's metadata."""
    return list(aio_client_interceptors())
