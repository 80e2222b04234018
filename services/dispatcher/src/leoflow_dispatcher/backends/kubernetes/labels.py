"""Labels and annotations of task pods.

Labels select (the watch of one replica's pods) and summarise (kubectl get pods
-l leoflow.io/dag-id=...); their values must follow Kubernetes' rules (at most 63
characters of [A-Za-z0-9-_.], alphanumeric at both ends), so identities such as
run ids ("manual__2026-01-01T00:00:00+00:00") are sanitized, with a short hash
when that loses information. Annotations carry the exact values.
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "leoflow.io/"
MANAGED_BY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "leoflow-dispatcher"
COMPONENT = "app.kubernetes.io/component"
COMPONENT_VALUE = "task"
DEPLOYMENT = PREFIX + "deployment"
DISPATCHER = PREFIX + "dispatcher"
TENANT = PREFIX + "tenant"
DAG_ID = PREFIX + "dag-id"
RUN_ID = PREFIX + "run-id"
TASK_ID = PREFIX + "task-id"
MAP_INDEX = PREFIX + "map-index"
TRY_NUMBER = PREFIX + "try-number"
DISPATCH_ATTEMPT = PREFIX + "dispatch-attempt"
TASK_INSTANCE_ID = PREFIX + "task-instance-id"
DAG_VERSION = PREFIX + "dag-version"

MAX_LABEL_VALUE = 63
_HASH_LENGTH = 10
_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_.-]+")
_VALID_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def label_value(text: str) -> str:
    """`text` as a valid label value: unchanged when it already is one, otherwise
    sanitized and, if anything was lost, suffixed with a hash of the original so
    that two different values never share a label."""
    if len(text) <= MAX_LABEL_VALUE and _VALID_VALUE.match(text):
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()[:_HASH_LENGTH]
    cleaned = _NOT_ALLOWED.sub("_", text)
    cleaned = cleaned[: MAX_LABEL_VALUE - _HASH_LENGTH - 1]
    cleaned = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", cleaned)
    return f"{cleaned}-{digest}" if cleaned else digest


def is_valid_label_value(text: str) -> bool:
    """True when `text` may be a label value."""
    return len(text) <= MAX_LABEL_VALUE and bool(_VALID_VALUE.match(text))


def replica_selector(deployment: str, replica_id: str) -> str:
    """The label selector of the pods one dispatcher replica launched."""
    return (
        f"{MANAGED_BY}={MANAGED_BY_VALUE},"
        f"{DEPLOYMENT}={label_value(deployment)},"
        f"{DISPATCHER}={label_value(replica_id)}"
    )
