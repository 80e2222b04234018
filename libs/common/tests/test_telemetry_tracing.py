"""Tracing: trace context carried by bus envelopes and gRPC calls, and spans
exported over OTLP/gRPC when an endpoint is configured."""

from concurrent import futures

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from leoflow_common.auth import TokenCodec
from leoflow_common.bus import CANCEL_REQUESTED, make_envelope
from leoflow_common.grpc import client_channel, start_grpc_server
from leoflow_common.settings import TelemetrySettings
from leoflow_common.telemetry import (
    build_tracer_provider,
    configure_tracing,
    extract_trace_context,
    grpc_client_interceptors,
    grpc_server_interceptors,
    inject_trace_context,
)
from leoflow_proto.common.v1.keys_pb2 import TaskInstanceKey, TaskInstanceTryKey
from leoflow_proto.events.v1 import events_pb2
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def cancel_envelope(**kwargs):
    key = TaskInstanceTryKey(task_instance=TaskInstanceKey(dag_id="d", run_id="r", task_id="t"), try_number=1)
    return make_envelope(CANCEL_REQUESTED, events_pb2.CancelRequested(key=key), tenant_id="acme", producer="test", **kwargs)


@pytest.fixture
def spans():
    """The process's tracer provider (installed once) with an in-memory exporter added."""
    provider = configure_tracing("telemetry-test", TelemetrySettings())
    exporter = InMemorySpanExporter()
    processor = SimpleSpanProcessor(exporter)
    provider.add_span_processor(processor)
    yield exporter
    exporter.shutdown()  # later spans are no longer recorded here


# --- bus envelopes -----------------------------------------------------------------


def test_trace_context_round_trips_through_an_envelope():
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("produce") as span:
        envelope = cancel_envelope()  # records the current span by default

    assert envelope.trace_context["traceparent"].startswith("00-")
    carried = trace.get_current_span(extract_trace_context(envelope)).get_span_context()
    produced = span.get_span_context()
    assert (carried.trace_id, carried.span_id, carried.is_remote) == (produced.trace_id, produced.span_id, True)


def test_no_span_means_no_trace_context_and_a_bad_one_is_ignored():
    assert inject_trace_context() == {}
    assert cancel_envelope().trace_context == {}
    garbled = cancel_envelope(trace_context={"traceparent": "not-a-traceparent"})
    assert not trace.get_current_span(extract_trace_context(garbled)).get_span_context().is_valid


def test_explicit_trace_context_wins_over_the_current_span():
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("outbox relay"):
        envelope = cancel_envelope(trace_context={})
    assert envelope.trace_context == {}


# --- gRPC ------------------------------------------------------------------------------


async def test_interceptors_carry_the_trace_across_a_grpc_call(spans):
    server = await start_grpc_server([], bind="127.0.0.1:0", codec=TokenCodec("s", "a"), extra_interceptors=grpc_server_interceptors())
    channel = client_channel(f"127.0.0.1:{server.port}", extra_interceptors=grpc_client_interceptors())
    try:
        with trace.get_tracer("test").start_as_current_span("caller") as caller:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    finally:
        await channel.close()
        await server.stop(0)

    by_kind = {s.kind: s for s in spans.get_finished_spans() if s.name == "/grpc.health.v1.Health/Check"}
    client, server_span = by_kind[trace.SpanKind.CLIENT], by_kind[trace.SpanKind.SERVER]
    trace_id = caller.get_span_context().trace_id
    assert client.context.trace_id == server_span.context.trace_id == trace_id
    assert client.parent.span_id == caller.get_span_context().span_id
    assert server_span.parent.span_id == client.context.span_id


async def test_a_grpc_handler_runs_inside_the_callers_trace(spans):
    async def current_trace_id(request: bytes, context) -> bytes:
        return format(trace.get_current_span().get_span_context().trace_id, "032x").encode()

    server = grpc.aio.server(interceptors=grpc_server_interceptors())
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Trace", {"Current": grpc.unary_unary_rpc_method_handler(current_trace_id)}),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = client_channel(f"127.0.0.1:{port}", extra_interceptors=grpc_client_interceptors())
    try:
        with trace.get_tracer("test").start_as_current_span("caller") as caller:
            seen = await channel.unary_unary("/test.Trace/Current")(b"")
    finally:
        await channel.close()
        await server.stop(0)
    assert seen.decode() == format(caller.get_span_context().trace_id, "032x")


# --- export --------------------------------------------------------------------------


class Collector(trace_service_pb2_grpc.TraceServiceServicer):
    """A minimal OTLP trace collector: keeps what it is sent."""

    def __init__(self):
        self.requests: list[trace_service_pb2.ExportTraceServiceRequest] = []

    def Export(self, request, context):
        self.requests.append(request)
        return trace_service_pb2.ExportTraceServiceResponse()


def test_spans_are_exported_over_otlp_grpc_when_an_endpoint_is_set():
    collector = Collector()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(collector, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    provider = build_tracer_provider("dispatcher", TelemetrySettings(otel_exporter_otlp_endpoint=f"http://127.0.0.1:{port}"))
    try:
        with provider.get_tracer("test").start_as_current_span("dispatch") as span:
            pass
        assert provider.force_flush(timeout_millis=10_000)
    finally:
        provider.shutdown()
        server.stop(0)

    exported = [
        (resource_spans.resource, exported_span)
        for request in collector.requests
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for exported_span in scope_spans.spans
    ]
    ((resource, exported_span),) = exported
    assert exported_span.name == "dispatch"
    assert exported_span.trace_id == span.get_span_context().trace_id.to_bytes(16, "big")
    service_names = [a.value.string_value for a in resource.attributes if a.key == "service.name"]
    assert service_names == ["dispatcher"]


def test_without_an_endpoint_nothing_is_exported_but_spans_have_ids():
    provider = build_tracer_provider("xcom", TelemetrySettings())
    with provider.get_tracer("test").start_as_current_span("push") as span:
        assert span.get_span_context().is_valid
    assert provider._active_span_processor._span_processors == ()
