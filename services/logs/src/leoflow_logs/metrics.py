"""Prometheus metrics of the logs service (leoflow_logs_*). Every metric declared
here is observed somewhere; the service tests check it (METRICS.unobserved())."""

from __future__ import annotations

from leoflow_common.telemetry import ServiceMetrics

METRICS = ServiceMetrics("logs")

RECORDS_APPENDED = METRICS.counter("records_appended_total", "Log records stored")
RECORDS_DUPLICATE = METRICS.counter(
    "records_duplicate_total", "Resent log records dropped as already stored"
)
RECORDS_TRUNCATED = METRICS.counter("records_truncated_total", "Log records cut to the size limit")
LOGS_CLOSED = METRICS.counter("closed_total", "Try logs closed by their agent (final)")
FOLLOWERS = METRICS.gauge("followers", "ReadLogs calls currently following a log")
