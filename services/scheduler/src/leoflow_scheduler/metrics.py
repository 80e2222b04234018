"""The scheduler's Prometheus metrics, declared in one place (each is fed
somewhere; `METRICS.unobserved()` must be empty once a run with a retry has
gone through, which the test suite checks)."""

from __future__ import annotations

from leoflow_common.telemetry import ServiceMetrics

METRICS = ServiceMetrics("scheduler")

IS_LEADER = METRICS.gauge(
    "is_leader", "1 while this replica leads (runs the scheduling loops), else 0."
)
DAG_VERSIONS_REGISTERED = METRICS.counter(
    "dag_versions_registered_total", "New DAG versions stored."
)
DAG_RUNS_TRIGGERED = METRICS.counter("dag_runs_triggered_total", "DagRuns created by a trigger.")
DAG_RUN_TRANSITIONS = METRICS.counter(
    "dag_run_transitions_total", "DagRun state changes, by new state.", ["state"]
)
TASK_TRANSITIONS = METRICS.counter(
    "task_instance_transitions_total", "Task-instance state changes, by rule.", ["rule"]
)
STATE_CONFLICTS = METRICS.counter(
    "state_conflicts_total", "Compare-and-set state writes that lost a race, by rule.", ["rule"]
)
DISPATCHES = METRICS.counter("dispatch_requests_total", "Dispatch requests written to the outbox.")
TASK_EVENTS = METRICS.counter(
    "task_events_total", "Task-instance reports from the dispatcher, by outcome.", ["outcome"]
)
RETRIES_SCHEDULED = METRICS.counter("retries_scheduled_total", "Failed tries put up for retry.")
OUTBOX_PUBLISHED = METRICS.counter("outbox_published_total", "Outbox rows published to the bus.")
OUTBOX_PENDING = METRICS.gauge(
    "outbox_pending", "Outbox rows not yet published, after the last relay pass."
)
DECISION_SECONDS = METRICS.histogram(
    "scheduling_decision_seconds",
    "Time to decide one DagRun's next tasks (inside its transaction).",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
