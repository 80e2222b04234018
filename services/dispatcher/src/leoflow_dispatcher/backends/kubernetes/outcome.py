"""pod -> outcome: a pure function of a pod's JSON (or V1Pod), the time, and the
platform's patience, in the manner of Argo's assessNodeStatus.

An outcome says whether the pod has ended (nothing more will happen to it), why,
with the container's exit code when there is one and a message a person can act
on, and whether the pod must still be deleted (one stuck Pending, or on a lost
node, still holds a place in the cluster).

Which failure kind it becomes depends on whether the agent had reported RUNNING
(user code started), which only the supervisor knows: `failure_kind(started)`.
Infrastructure outcomes do not consume a try: the image could not be pulled, the
pod could not be scheduled or its container created, and — before user code
started — eviction, node loss, deletion, OOM or the deadline. After user code
started they do (as Airflow counts a zombie's or a timed-out task's try).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from kubernetes import client
from leoflow_proto.common.v1 import states_pb2

from .pod_spec import AGENT_CONTAINER

INFRASTRUCTURE = states_pb2.FAILURE_KIND_INFRASTRUCTURE
USER_ERROR = states_pb2.FAILURE_KIND_USER_ERROR
TIMEOUT = states_pb2.FAILURE_KIND_TIMEOUT
LOST = states_pb2.FAILURE_KIND_HEARTBEAT_LOST

IMAGE_PULL_REASONS = frozenset(
    {"ImagePullBackOff", "ErrImagePull", "ErrImageNeverPull", "RegistryUnavailable"}
)
CONTAINER_CONFIG_REASONS = frozenset({"CreateContainerConfigError", "CreateContainerError"})


class PodOutcomeReason(StrEnum):
    PENDING = "Pending"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    OOM_KILLED = "OOMKilled"
    EVICTED = "Evicted"
    IMAGE_PULL_FAILED = "ImagePullFailed"
    INVALID_IMAGE = "InvalidImageName"
    CONTAINER_CONFIG_ERROR = "CreateContainerConfigError"
    UNSCHEDULABLE = "Unschedulable"
    DEADLINE_EXCEEDED = "DeadlineExceeded"
    NODE_LOST = "NodeLost"
    DELETED = "Deleted"


R = PodOutcomeReason
NOT_ENDED = frozenset({R.PENDING, R.RUNNING})
# Outcomes that cannot happen once user code runs: never a consumed try.
ALWAYS_INFRASTRUCTURE = frozenset(
    {R.IMAGE_PULL_FAILED, R.INVALID_IMAGE, R.CONTAINER_CONFIG_ERROR, R.UNSCHEDULABLE}
)
# The failure kind of each outcome once user code had started.
KIND_AFTER_START = {
    R.FAILED: USER_ERROR,
    R.OOM_KILLED: USER_ERROR,
    R.EVICTED: LOST,
    R.DEADLINE_EXCEEDED: TIMEOUT,
    R.NODE_LOST: LOST,
    R.DELETED: LOST,
}


@dataclass(frozen=True, slots=True)
class PodLimits:
    """How long the platform waits for a pod that cannot start."""

    image_pull_grace: float
    unschedulable_timeout: float


@dataclass(frozen=True, slots=True)
class PodOutcome:
    reason: PodOutcomeReason
    message: str = ""
    exit_code: int | None = None
    # The pod ended without reaching a terminal phase: delete it.
    needs_delete: bool = False

    @property
    def ended(self) -> bool:
        """Nothing more will happen to the pod: its end is to be reported."""
        return self.reason not in NOT_ENDED

    @property
    def succeeded(self) -> bool:
        return self.reason is R.SUCCEEDED

    def failure_kind(self, user_code_started: bool) -> int:
        """The FailureKind of this end (UNSPECIFIED when it is no failure)."""
        if not self.ended or self.succeeded:
            return states_pb2.FAILURE_KIND_UNSPECIFIED
        if self.reason in ALWAYS_INFRASTRUCTURE or not user_code_started:
            return INFRASTRUCTURE
        return KIND_AFTER_START[self.reason]

    def consumes_try(self, user_code_started: bool) -> bool:
        """Whether this end uses up one of the task's tries."""
        kind = self.failure_kind(user_code_started)
        return kind not in (states_pb2.FAILURE_KIND_UNSPECIFIED, INFRASTRUCTURE)


def assess_pod(
    pod: Mapping[str, Any] | client.V1Pod,
    *,
    now: datetime,
    limits: PodLimits,
    deleted: bool = False,
) -> PodOutcome:
    """The outcome of `pod` at `now`. `deleted`: the API reported the pod gone."""
    raw = _as_json(pod)
    status = raw.get("status") or {}
    phase = status.get("phase") or "Pending"
    container = _agent_status(status)
    terminated = _state(container, "terminated")
    if phase == "Succeeded":
        return PodOutcome(R.SUCCEEDED, "the agent reported the try's outcome and exited", 0)
    if phase == "Failed":
        return _assess_failed(status, terminated)
    if deleted:
        return _assess_deleted(raw, status)
    if phase == "Unknown":
        return PodOutcome(
            R.NODE_LOST,
            _join("the pod's node stopped reporting (pod status Unknown)", status.get("message")),
            needs_delete=True,
        )
    if phase == "Running":
        return PodOutcome(R.RUNNING, "the agent is running")
    return _assess_pending(raw, status, container, now, limits)


def _assess_failed(status: Mapping, terminated: Mapping | None) -> PodOutcome:
    reason = status.get("reason") or ""
    exit_code = terminated.get("exitCode") if terminated else None
    if reason == "Evicted":
        return PodOutcome(
            R.EVICTED,
            _join("the pod was evicted", status.get("message")),
            exit_code,
        )
    if reason == "DeadlineExceeded":
        return PodOutcome(
            R.DEADLINE_EXCEEDED,
            _join(
                "the pod exceeded its activeDeadlineSeconds (execution_timeout plus the startup allowance)",
                status.get("message"),
            ),
            exit_code,
        )
    if terminated and terminated.get("reason") == "OOMKilled":
        return PodOutcome(
            R.OOM_KILLED,
            _with_log(
                "the task's container was OOMKilled: it used more memory than its limit "
                "(raise resources.limits.memory in leoflow.yaml)",
                terminated.get("message"),
            ),
            exit_code,
        )
    if terminated is None:
        return PodOutcome(R.FAILED, _join("the pod failed", status.get("message")), None)
    return PodOutcome(
        R.FAILED,
        _with_log(f"the agent exited with code {exit_code}", terminated.get("message")),
        exit_code,
    )


def _assess_deleted(raw: Mapping, status: Mapping) -> PodOutcome:
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    disruption = conditions.get("DisruptionTarget")
    if disruption and disruption.get("status") == "True":
        return PodOutcome(
            R.NODE_LOST,
            _join(
                f"the pod was deleted by the cluster ({disruption.get('reason') or 'disruption'})",
                disruption.get("message"),
            ),
        )
    return PodOutcome(
        R.DELETED, "the pod was deleted before it finished (by a person or a controller)"
    )


def _assess_pending(
    raw: Mapping, status: Mapping, container: Mapping | None, now: datetime, limits: PodLimits
) -> PodOutcome:
    waiting = _state(container, "waiting") or {}
    reason = waiting.get("reason") or ""
    detail = waiting.get("message")
    started = _timestamp(status.get("startTime")) or _timestamp(
        (raw.get("metadata") or {}).get("creationTimestamp")
    )
    age = (now - started).total_seconds() if started else 0.0
    if reason == "InvalidImageName":
        # Never heals: waiting would only delay the clear error.
        return PodOutcome(
            R.INVALID_IMAGE,
            _join("the DAG's image reference is invalid", detail),
            needs_delete=True,
        )
    if reason in IMAGE_PULL_REASONS:
        if age >= limits.image_pull_grace:
            return PodOutcome(
                R.IMAGE_PULL_FAILED,
                _join(
                    f"the DAG's image could not be pulled within {limits.image_pull_grace:g}s ({reason})",
                    detail,
                ),
                needs_delete=True,
            )
        return PodOutcome(R.PENDING, _join(f"pulling the image failed so far ({reason})", detail))
    if reason in CONTAINER_CONFIG_REASONS:
        if age >= limits.image_pull_grace:
            return PodOutcome(
                R.CONTAINER_CONFIG_ERROR,
                _join(f"the task's container could not be created ({reason})", detail),
                needs_delete=True,
            )
        return PodOutcome(
            R.PENDING, _join(f"creating the container failed so far ({reason})", detail)
        )
    scheduled = next(
        (c for c in status.get("conditions") or [] if c.get("type") == "PodScheduled"), None
    )
    if (
        scheduled
        and scheduled.get("status") == "False"
        and scheduled.get("reason") == "Unschedulable"
    ):
        created = _timestamp((raw.get("metadata") or {}).get("creationTimestamp"))
        waited = (now - created).total_seconds() if created else 0.0
        if waited >= limits.unschedulable_timeout:
            return PodOutcome(
                R.UNSCHEDULABLE,
                _join(
                    f"no node could run the pod within {limits.unschedulable_timeout:g}s",
                    scheduled.get("message"),
                ),
                needs_delete=True,
            )
        return PodOutcome(R.PENDING, _join("waiting for a node", scheduled.get("message")))
    return PodOutcome(R.PENDING, _join("the pod is starting", reason or None))


def _as_json(pod: Mapping[str, Any] | client.V1Pod) -> Mapping[str, Any]:
    if isinstance(pod, client.V1Pod):
        return client.ApiClient().sanitize_for_serialization(pod)
    return pod


def _agent_status(status: Mapping) -> Mapping | None:
    statuses = status.get("containerStatuses") or []
    return next((c for c in statuses if c.get("name") == AGENT_CONTAINER), None) or (
        statuses[0] if statuses else None
    )


def _state(container: Mapping | None, which: str) -> Mapping | None:
    if not container:
        return None
    return (container.get("state") or {}).get(which)


def _timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _with_log(summary: str, termination_message: str | None, limit: int = 2000) -> str:
    """`summary`, then the end of the termination message (with
    FallbackToLogsOnError: the agent's last stderr lines)."""
    if not termination_message or not termination_message.strip():
        return summary
    text = termination_message.strip()
    if len(text) > limit:
        text = "…" + text[-limit:]
    return f"{summary}; last lines of its log:\n{text}"


def _join(summary: str, detail: str | None) -> str:
    return f"{summary}: {detail.strip()}" if detail and detail.strip() else summary
