"""Metrics: declared in one place, prefixed per service, served on /metrics,
and a declared-but-never-observed metric is detectable."""

import urllib.request

import pytest
from leoflow_common.errors import Unavailable
from leoflow_common.telemetry import MASK, ServiceMetrics, mask_secrets, start_metrics_server
from prometheus_client import CollectorRegistry


def test_declared_metrics_are_prefixed_and_unobserved_until_fed():
    metrics = ServiceMetrics("api-gateway", registry=CollectorRegistry())
    requests = metrics.counter("requests_total", "Requests.", ["route"])
    errors = metrics.counter("errors_total", "Errors.")
    latency = metrics.histogram("latency_seconds", "Latency.")
    metrics.gauge("connections", "Open connections.")  # unlabelled gauge: never listed

    assert sorted(metrics.unobserved()) == [
        "leoflow_api_gateway_errors",
        "leoflow_api_gateway_latency_seconds",
        "leoflow_api_gateway_requests",
    ]
    requests.labels(route="/dags").inc()
    errors.inc()
    latency.observe(0.2)
    assert metrics.unobserved() == []


def test_metrics_server_serves_the_registry():
    registry = CollectorRegistry()
    runs = ServiceMetrics("scheduler", registry=registry).counter("dag_runs_created_total", "DagRuns created.", ["tenant"])
    runs.labels(tenant="acme").inc(2)
    server = start_metrics_server(0, addr="127.0.0.1", registry=registry)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/metrics", timeout=10) as response:
            body = response.read().decode()
    finally:
        server.stop()
    assert 'leoflow_scheduler_dag_runs_created_total{tenant="acme"} 2.0' in body


def test_a_taken_port_is_a_clear_error():
    first = start_metrics_server(0, addr="127.0.0.1", registry=CollectorRegistry())
    try:
        with pytest.raises(Unavailable, match=f"cannot serve metrics on 127.0.0.1:{first.port}"):
            start_metrics_server(first.port, addr="127.0.0.1", registry=CollectorRegistry())
    finally:
        first.stop()


def test_mask_secrets_masks_every_occurrence_longest_first():
    text = "postgres://app:hunter2@db/app?password=hunter2 token=abc123abc"
    assert mask_secrets(text, ["hunter2", "abc", "abc123abc", "", None]) == f"postgres://app:{MASK}@db/app?password={MASK} token={MASK}"
    assert mask_secrets(text, []) == text
