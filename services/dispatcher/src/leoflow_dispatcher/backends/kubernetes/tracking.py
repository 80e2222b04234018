"""What the backend remembers of each pod of its replica: a slim copy of the pod
(what the outcome assessor reads, no spec) and where the pod stands with the
supervisor. Kept small on purpose: one replica may track tens of thousands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .outcome import PodOutcome

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
_KEPT_CONDITIONS = frozenset({"PodScheduled", "DisruptionTarget"})
_KEPT_STATUS = ("phase", "reason", "message", "startTime")
_KEPT_METADATA = ("name", "creationTimestamp", "deletionTimestamp", "resourceVersion")


@dataclass(slots=True)
class TrackedPod:
    pod: dict[str, Any]
    # The supervisor watches it (launched or adopted here): its end is reported.
    claimed: bool = False
    reported: bool = False
    delete_requested: bool = False
    # The last assessment (its message explains the end).
    outcome: PodOutcome | None = None
    # Monotonic time the pod was first seen finished (garbage collection).
    finished_at: float | None = None

    @property
    def phase(self) -> str:
        return (self.pod.get("status") or {}).get("phase") or "Pending"

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES


def slim_pod(pod: dict[str, Any]) -> dict[str, Any]:
    """The parts of a pod the assessor reads: metadata names and times, the
    status's phase, reason, message, start time, scheduling and disruption
    conditions, and the container statuses' states."""
    metadata = pod.get("metadata") or {}
    status = pod.get("status") or {}
    slim_status: dict[str, Any] = {k: status[k] for k in _KEPT_STATUS if status.get(k)}
    conditions = [c for c in status.get("conditions") or [] if c.get("type") in _KEPT_CONDITIONS]
    if conditions:
        slim_status["conditions"] = conditions
    containers = [
        {"name": c.get("name"), "state": c.get("state") or {}}
        for c in status.get("containerStatuses") or []
    ]
    if containers:
        slim_status["containerStatuses"] = containers
    return {
        "metadata": {k: metadata[k] for k in _KEPT_METADATA if metadata.get(k)},
        "status": slim_status,
    }
