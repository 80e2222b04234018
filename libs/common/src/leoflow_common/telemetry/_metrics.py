"""Prometheus metrics: the /metrics endpoint, and `ServiceMetrics`, the one place
a service declares its metrics.

Design rule (DESIGN.md §8): a declared metric that is never observed is a bug.
`ServiceMetrics.unobserved()` lists the suspects, so a service's integration or
end-to-end test can assert that every metric it declares is really fed.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from wsgiref.simple_server import WSGIServer

import prometheus_client
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.metrics import MetricWrapperBase

from ..errors import Unavailable


@dataclass
class MetricsServer:
    """The running /metrics endpoint (a daemon thread)."""

    port: int
    _server: WSGIServer
    _thread: threading.Thread

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def start_metrics_server(port: int, *, addr: str = "0.0.0.0", registry: CollectorRegistry = prometheus_client.REGISTRY) -> MetricsServer:
    """Serve `registry` on http://addr:port/metrics (any path works); port 0
    picks a free port (tests), reported in `.port`."""
    try:
        server, thread = prometheus_client.start_http_server(port, addr=addr, registry=registry)
    except OSError as exc:
        raise Unavailable(f"cannot serve metrics on {addr}:{port}: {exc.strerror or exc}") from exc
    return MetricsServer(port=server.server_port, _server=server, _thread=thread)


class ServiceMetrics:
    """A service's metrics, declared together in its `metrics.py`:

        metrics = ServiceMetrics("scheduler")
        DAG_RUNS_CREATED = metrics.counter("dag_runs_created_total", "DagRuns created.", ["tenant"])
        DECISION_SECONDS = metrics.histogram("decision_seconds", "Time to decide the next tasks.")

    Every name gets the prefix "leoflow_<service>_", so metric names say who
    emits them.
    """

    def __init__(self, service: str, *, registry: CollectorRegistry = prometheus_client.REGISTRY):
        self.prefix = f"leoflow_{service.replace('-', '_')}"
        self._registry = registry
        self._declared: list[MetricWrapperBase] = []

    def counter(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Counter:
        return self._declare(Counter(name, documentation, labelnames, namespace=self.prefix, registry=self._registry))

    def gauge(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> Gauge:
        return self._declare(Gauge(name, documentation, labelnames, namespace=self.prefix, registry=self._registry))

    def histogram(self, name: str, documentation: str, labelnames: Sequence[str] = (), *, buckets: Sequence[float] = Histogram.DEFAULT_BUCKETS) -> Histogram:
        return self._declare(Histogram(name, documentation, labelnames, namespace=self.prefix, registry=self._registry, buckets=buckets))

    def _declare(self, metric):
        self._declared.append(metric)
        return metric

    def declared(self) -> tuple[MetricWrapperBase, ...]:
        return tuple(self._declared)

    def unobserved(self) -> list[str]:
        """Names of declared metrics nothing has fed yet: a labelled metric with
        no label set used, a counter still at zero, a histogram with no
        observation. (An unlabelled gauge cannot tell "never set" from "set to
        0", so it is never listed.)"""
        return [metric._name for metric in self._declared if not _observed(metric)]


def _observed(metric: MetricWrapperBase) -> bool:
    samples = [s for family in metric.collect() for s in family.samples]
    if metric._labelnames:
        return bool(samples)
    if isinstance(metric, Counter):
        return any(s.name.endswith("_total") and s.value > 0 for s in samples)
    if isinstance(metric, Histogram):
        return any(s.name.endswith("_count") and s.value > 0 for s in samples)
    return True
