"""Airflow's state strings, the proto enums, and the named sets the rules use.

The strings are the public contract (REST API, database columns); the enums are the
wire form between services. Both directions of the mapping live here only.
"""

from __future__ import annotations

from enum import StrEnum

from leoflow_proto.common.v1 import states_pb2


class TaskInstanceState(StrEnum):
    """Airflow's TaskInstanceState values. "none" is Airflow's null state."""

    NONE = "none"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    UP_FOR_RETRY = "up_for_retry"
    UP_FOR_RESCHEDULE = "up_for_reschedule"
    UPSTREAM_FAILED = "upstream_failed"
    SKIPPED = "skipped"
    DEFERRED = "deferred"
    REMOVED = "removed"
    RESTARTING = "restarting"

    def to_proto(self) -> int:
        if self is TaskInstanceState.NONE:
            return states_pb2.TASK_INSTANCE_STATE_UNSPECIFIED
        return states_pb2.TaskInstanceState.Value(f"TASK_INSTANCE_STATE_{self.name}")

    @classmethod
    def from_proto(cls, value: int) -> TaskInstanceState:
        if value == states_pb2.TASK_INSTANCE_STATE_UNSPECIFIED:
            return cls.NONE
        return cls[states_pb2.TaskInstanceState.Name(value).removeprefix("TASK_INSTANCE_STATE_")]

    @classmethod
    def from_db(cls, value: str | None) -> TaskInstanceState:
        return cls.NONE if value is None else cls(value)

    def to_db(self) -> str | None:
        return None if self is TaskInstanceState.NONE else self.value


class DagRunState(StrEnum):
    """Airflow's DagRunState values."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"

    def to_proto(self) -> int:
        return states_pb2.DagRunState.Value(f"DAG_RUN_STATE_{self.name}")

    @classmethod
    def from_proto(cls, value: int) -> DagRunState:
        return cls[states_pb2.DagRunState.Name(value).removeprefix("DAG_RUN_STATE_")]


class DagRunType(StrEnum):
    """Airflow's DagRunType values."""

    MANUAL = "manual"
    SCHEDULED = "scheduled"
    BACKFILL = "backfill"
    ASSET_TRIGGERED = "asset_triggered"
    OPERATOR_TRIGGERED = "operator_triggered"

    def to_proto(self) -> int:
        return states_pb2.DagRunType.Value(f"DAG_RUN_TYPE_{self.name}")

    @classmethod
    def from_proto(cls, value: int) -> DagRunType:
        if value == states_pb2.DAG_RUN_TYPE_UNSPECIFIED:
            return cls.MANUAL
        return cls[states_pb2.DagRunType.Name(value).removeprefix("DAG_RUN_TYPE_")]


class TriggerRule(StrEnum):
    """Airflow's trigger rules."""

    ALL_SUCCESS = "all_success"
    ALL_FAILED = "all_failed"
    ALL_DONE = "all_done"
    ALL_DONE_MIN_ONE_SUCCESS = "all_done_min_one_success"
    ALL_SKIPPED = "all_skipped"
    ONE_SUCCESS = "one_success"
    ONE_FAILED = "one_failed"
    ONE_DONE = "one_done"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"
    NONE_SKIPPED = "none_skipped"
    ALWAYS = "always"

    def to_proto(self) -> int:
        return states_pb2.TriggerRule.Value(f"TRIGGER_RULE_{self.name}")

    @classmethod
    def from_proto(cls, value: int) -> TriggerRule:
        if value == states_pb2.TRIGGER_RULE_UNSPECIFIED:
            return cls.ALL_SUCCESS
        return cls[states_pb2.TriggerRule.Name(value).removeprefix("TRIGGER_RULE_")]


TI = TaskInstanceState

#: States a task instance never leaves without a user or a clear.
TI_FINISHED = frozenset({TI.SUCCESS, TI.FAILED, TI.SKIPPED, TI.UPSTREAM_FAILED, TI.REMOVED})
#: States from which the task instance will still change on its own.
TI_UNFINISHED = frozenset(set(TI) - TI_FINISHED)
#: States in which an execution (process / pod) may exist.
TI_EXECUTING = frozenset({TI.QUEUED, TI.RUNNING, TI.RESTARTING})
#: States that count as failure for trigger rules and run completion.
TI_FAILED_STATES = frozenset({TI.FAILED, TI.UPSTREAM_FAILED})

RUN_FINISHED = frozenset({DagRunState.SUCCESS, DagRunState.FAILED})
RUN_UNFINISHED = frozenset({DagRunState.QUEUED, DagRunState.RUNNING})
