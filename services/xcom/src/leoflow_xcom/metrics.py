"""Prometheus metrics of the xcom service (leoflow_xcom_*). Every metric declared
here is observed somewhere; the service tests check it (METRICS.unobserved())."""

from __future__ import annotations

from leoflow_common.telemetry import ServiceMetrics

METRICS = ServiceMetrics("xcom")

PUSHES = METRICS.counter("push_total", "XCom values stored")
# reason: too_large | invalid_json | forbidden
REJECTIONS = METRICS.counter("rejected_total", "XCom values refused, by reason", ["reason"])
VALUE_SIZE = METRICS.histogram(
    "size_bytes",
    "Size of stored XCom values",
    buckets=(64, 512, 4096, 16384, 65536, 131072, 262144, 1048576),
)
PULLS = METRICS.counter("pull_total", "XCom values read by agents and users, by method", ["method"])
PURGED = METRICS.counter(
    "purged_total", "XCom values deleted because their task instance was cleared"
)
EXPIRED_DELETED = METRICS.counter(
    "expired_deleted_total", "Expired XCom rows deleted by the sweep (postgres)"
)
