"""One execution: a dispatch attempt of a task-instance try, as this replica sees it.

Invariants:
- `outcome` is set at most once (by the agent's terminal report or by the
  dispatcher's supervision), and then never changes;
- `reported` holds the states the agent reported and the dispatcher accepted, in
  order: RUNNING at most once, then at most one terminal state;
- `outbox` holds the state-change envelopes not yet on the bus, in order; an
  execution is never forgotten while it has one;
- timestamps are monotonic-clock seconds of this process (not persisted).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from leoflow_common.states import TaskInstanceState
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution
from leoflow_proto.events.v1.envelope_pb2 import Envelope

from .secrets_prefetch import SecretsPrefetch

TI = TaskInstanceState


@dataclass
class Execution:
    name: str
    spec: TaskExecution
    launched_at: float
    reported: list[TaskInstanceState] = field(default_factory=list)
    outcome: TaskInstanceState | None = None
    cancelled: bool = False
    outbox: list[Envelope] = field(default_factory=list)
    # Whether the process or pod may still be running.
    alive: bool = True
    # The backend was told to stop it (once is enough: it escalates by itself).
    stop_requested: bool = False
    last_contact_at: float | None = None
    running_since: float | None = None
    # The same instant in wall-clock seconds: it survives a restart (journal).
    running_since_epoch: float | None = None
    ended_at: float | None = None
    finished_at: float | None = None
    hostname: str = ""
    pid: int = 0
    agent_version: str = ""
    # Variables and connections asked for at dispatch, for the agent's first
    # GetTaskSecrets (secrets_prefetch.py; not persisted).
    secrets: SecretsPrefetch | None = field(default=None, repr=False)

    @property
    def tenant_id(self) -> str:
        return self.spec.tenant_id

    @property
    def user_code_started(self) -> bool:
        """The agent reported RUNNING: the user's code started (a failure now consumes a try)."""
        return TI.RUNNING in self.reported

    @property
    def ended(self) -> bool:
        """No further state of this try will be published: it has an outcome or was cancelled."""
        return self.outcome is not None or self.cancelled

    @property
    def execution_timeout(self) -> float | None:
        """The task's execution_timeout in seconds, None when it has none."""
        if not self.spec.task.HasField("execution_timeout"):
            return None
        timeout = self.spec.task.execution_timeout
        seconds = timeout.seconds + timeout.nanos / 1e9
        return seconds if seconds > 0 else None

    def matches(
        self,
        *,
        tenant_id: str,
        dag_id: str,
        run_id: str,
        task_id: str,
        map_index: int,
        try_number: int,
    ) -> bool:
        """True when this execution runs that task-instance try."""
        key = self.spec.key
        return (
            self.tenant_id == tenant_id
            and key.dag_id == dag_id
            and key.run_id == run_id
            and key.task_id == task_id
            and key.map_index == map_index
            and self.spec.try_number == try_number
        )

    def end(self, outcome: TaskInstanceState, now: float) -> None:
        """Record the try's one outcome."""
        if self.outcome is not None:
            raise RuntimeError(f"execution {self.name} already ended as {self.outcome}")
        self.outcome = outcome
        self.ended_at = now

    def cancel(self, now: float) -> None:
        """Record that the try was cancelled: it publishes nothing more."""
        if not self.cancelled:
            self.cancelled = True
            self.ended_at = self.ended_at or now

    def mark_exited(self, now: float) -> None:
        """The process or pod is gone."""
        self.alive = False
        if self.finished_at is None:
            self.finished_at = now
