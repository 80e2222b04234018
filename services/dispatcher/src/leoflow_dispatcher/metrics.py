"""Prometheus metrics of the dispatcher (leoflow_dispatcher_*). Every metric
declared here is observed somewhere; a test holds it (METRICS.unobserved())."""

from __future__ import annotations

from leoflow_common.telemetry import ServiceMetrics

METRICS = ServiceMetrics("dispatcher")

EXECUTIONS_STARTED = METRICS.counter(
    "executions_started_total", "Executions launched, by backend", ["backend"]
)
LOCAL_STARTS = METRICS.counter(
    "local_starts_total",
    "Tries the local backend started: warm (a standby agent of the warm pool took it) or cold",
    ["start"],
)
LAUNCH_FAILURES = METRICS.counter("launch_failures_total", "Executions that could not be started")
DUPLICATE_REQUESTS = METRICS.counter(
    "duplicate_requests_total",
    "Dispatch requests whose execution was already known or running (redeliveries)",
)
EXECUTIONS_RUNNING = METRICS.gauge(
    "executions_running", "Executions holding a slot of this replica"
)
LAUNCH_DURATION = METRICS.histogram(
    "launch_duration_seconds",
    "Time the backend took to start an execution",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
COLD_START = METRICS.histogram(
    "cold_start_seconds",
    "From launch to the agent reporting RUNNING (user code starting)",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
STATES_PUBLISHED = METRICS.counter(
    "state_changes_published_total", "State changes put on the bus, by state", ["state"]
)
PUBLISH_FAILURES = METRICS.counter(
    "publish_failures_total", "Publications the bus refused (kept and retried)"
)
SUPERVISION_FAILURES = METRICS.counter(
    "supervision_failures_total",
    "Tries the dispatcher failed on the agent's behalf, by failure kind",
    ["failure_kind"],
)
CANCELS = METRICS.counter("cancelled_total", "Executions stopped because their try was cancelled")
