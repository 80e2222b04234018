"""Prometheus metrics of the api-gateway (leoflow_api_gateway_*). Every metric
declared here is observed; the tests check it (METRICS.unobserved())."""

from __future__ import annotations

from leoflow_common.telemetry import ServiceMetrics

METRICS = ServiceMetrics("api-gateway")

# operation: the route handler's name, Airflow's operationId (get_dags, trigger_dag_run...).
REQUESTS = METRICS.counter("requests_total", "API requests answered, by operation and status code", ["operation", "status"])
REQUEST_SECONDS = METRICS.histogram(
    "request_seconds", "Time to answer an API request, by operation", ["operation"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
)
# outcome: success | invalid_credentials | error
LOGINS = METRICS.counter("logins_total", "Password logins at /auth/token, by outcome", ["outcome"])
