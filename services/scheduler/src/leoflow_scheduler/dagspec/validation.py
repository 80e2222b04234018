"""Validation of a compiled DAG before the registry stores anything.

`validate_dag_spec` raises InvalidArgument whose `field` names the offending
input (protobuf field path, e.g. "tasks[2].upstream_task_ids") and whose message
says what is wrong, in Airflow's terms where Airflow has them. A spec that passes
can be scheduled: every edge resolves, the graph is acyclic, every task can run.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import available_timezones

from leoflow_common.errors import InvalidArgument
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1 import dag_pb2

from ..scheduling.mapping import MappingError, mapping_values, value_length
from .graph import find_cycle
from .schedule import ScheduleError, parse_schedule

SUPPORTED_SCHEMA_MAJOR = "1"
# Airflow's KEY_REGEX and ID_LEN (airflow.utils.helpers / airflow.models.base).
KEY_REGEX = re.compile(r"^[\w.-]+$")
ID_LEN = 250

_PYTHON_KINDS = {
    dag_pb2.OPERATOR_KIND_PYTHON,
    dag_pb2.OPERATOR_KIND_BRANCH_PYTHON,
    dag_pb2.OPERATOR_KIND_SHORT_CIRCUIT,
}


def validate_dag_spec(spec: dag_pb2.DagSpec) -> None:
    """Raise InvalidArgument (with `field`) unless `spec` is a DAG we can run."""
    _check_schema_version(spec.schema_version)
    _check_key(spec.dag_id, "dag_id", "dag_id")
    _check_dag_settings(spec)
    if not spec.tasks:
        raise InvalidArgument(f"DAG {spec.dag_id!r} has no tasks", field="tasks")
    index_of: dict[str, int] = {}
    for i, task in enumerate(spec.tasks):
        _check_key(task.task_id, "task_id", f"tasks[{i}].task_id")
        if task.task_id in index_of:
            raise InvalidArgument(
                f"duplicate task_id {task.task_id!r}", field=f"tasks[{i}].task_id"
            )
        index_of[task.task_id] = i
    for i, task in enumerate(spec.tasks):
        _check_task(i, task, index_of)
    cycle = find_cycle({task.task_id: list(task.upstream_task_ids) for task in spec.tasks})
    if cycle:
        raise InvalidArgument("cycle: " + " -> ".join(cycle), field="tasks")


def _check_schema_version(version: str) -> None:
    if not version:
        raise InvalidArgument("schema_version is required", field="schema_version")
    if version.split(".", 1)[0] != SUPPORTED_SCHEMA_MAJOR:
        raise InvalidArgument(
            f"unsupported schema_version {version!r}; this registry reads schema version {SUPPORTED_SCHEMA_MAJOR}",
            field="schema_version",
        )


def _check_key(value: str, name: str, field: str) -> None:
    if not value:
        raise InvalidArgument(f"{name} is required", field=field)
    if len(value) > ID_LEN:
        raise InvalidArgument(
            f"{name} {value[:40]!r}... is longer than {ID_LEN} characters", field=field
        )
    if not KEY_REGEX.match(value):
        raise InvalidArgument(
            f"{name} {value!r} has characters that are not allowed; "
            "it must consist exclusively of alphanumeric characters, dashes, dots and underscores",
            field=field,
        )


def _check_dag_settings(spec: dag_pb2.DagSpec) -> None:
    try:
        parse_schedule(spec.schedule)
    except ScheduleError as exc:
        raise InvalidArgument(str(exc), field=exc.field) from exc
    if spec.timezone and spec.timezone not in _timezones():
        raise InvalidArgument(f"unknown time zone {spec.timezone!r}", field="timezone")
    for name in ("max_active_runs", "max_active_tasks", "max_consecutive_failed_dag_runs"):
        if getattr(spec, name) < 0:
            raise InvalidArgument(f"{name} must not be negative", field=name)
    if parse_schedule(spec.schedule).kind == dag_pb2.SCHEDULE_KIND_CONTINUOUS and spec.max_active_runs > 1:
        # Airflow: "ContinuousTimetable requires max_active_runs <= 1".
        raise InvalidArgument(
            "Invalid max_active_runs: ContinuousTimetable requires max_active_runs <= 1",
            field="max_active_runs",
        )
    start, end = _timestamp(spec, "start_date"), _timestamp(spec, "end_date")
    if start is not None and end is not None and end < start:
        raise InvalidArgument("end_date is before start_date", field="end_date")


def _timestamp(message, name: str) -> datetime | None:
    if not message.HasField(name):
        return None
    try:
        return getattr(message, name).ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as exc:
        raise InvalidArgument(f"{name} is not a valid timestamp", field=name) from exc


def _duration(message, name: str, field: str) -> timedelta | None:
    if not message.HasField(name):
        return None
    try:
        return getattr(message, name).ToTimedelta()
    except (ValueError, OverflowError) as exc:
        raise InvalidArgument(f"{name} is not a valid duration", field=field) from exc


_TIMEZONES: frozenset[str] | None = None


def _timezones() -> frozenset[str]:
    global _TIMEZONES
    if _TIMEZONES is None:
        _TIMEZONES = frozenset(available_timezones()) | {"UTC"}
    return _TIMEZONES


def _check_task(i: int, task: dag_pb2.TaskSpec, index_of: dict[str, int]) -> None:
    prefix = f"tasks[{i}]"
    if task.kind == dag_pb2.OPERATOR_KIND_UNSPECIFIED:
        raise InvalidArgument(f"task {task.task_id!r} has no operator kind", field=f"{prefix}.kind")
    if task.kind not in dag_pb2.OperatorKind.values():
        raise InvalidArgument(
            f"task {task.task_id!r} has an unknown operator kind {task.kind}",
            field=f"{prefix}.kind",
        )
    if task.trigger_rule not in states_pb2.TriggerRule.values():
        raise InvalidArgument(
            f"task {task.task_id!r} has an unknown trigger rule {task.trigger_rule}",
            field=f"{prefix}.trigger_rule",
        )
    if task.kind in _PYTHON_KINDS and not (task.HasField("python") and task.python.qualname):
        raise InvalidArgument(
            f"task {task.task_id!r} needs a python callable", field=f"{prefix}.python"
        )
    # The command may come at run time: from a @task.bash function, or mapped (expand).
    command_at_run_time = bool(task.python.qualname) or "bash_command" in task.mapping.expand
    if task.kind == dag_pb2.OPERATOR_KIND_BASH and not task.bash.bash_command.strip() and not command_at_run_time:
        raise InvalidArgument(
            f"task {task.task_id!r} needs a bash_command", field=f"{prefix}.bash.bash_command"
        )
    if task.retries < 0:
        raise InvalidArgument(
            f"task {task.task_id!r}: retries must not be negative", field=f"{prefix}.retries"
        )
    for name in ("retry_delay", "max_retry_delay", "execution_timeout"):
        value = _duration(task, name, f"{prefix}.{name}")
        if value is not None and value < timedelta(0):
            raise InvalidArgument(
                f"task {task.task_id!r}: {name} must not be negative", field=f"{prefix}.{name}"
            )
    upstream = set()
    for up in task.upstream_task_ids:
        if up not in index_of:
            raise InvalidArgument(
                f"task {task.task_id!r} has unknown upstream task {up!r}",
                field=f"{prefix}.upstream_task_ids",
            )
        upstream.add(up)
    for position, arg in enumerate(task.arguments):
        for ref in _xcom_refs(arg.value):
            if ref.task_id not in upstream:
                raise InvalidArgument(
                    f"task {task.task_id!r} reads the XCom of {ref.task_id!r}, which is not one of its upstream tasks",
                    field=f"{prefix}.arguments[{position}]",
                )
    if task.HasField("mapping"):
        _check_mapping(task, prefix, upstream)


def _check_mapping(task: dag_pb2.TaskSpec, prefix: str, upstream: set[str]) -> None:
    """A mapped task expands over lists/dicts written in the DAG or upstream XComs."""
    mapping = task.mapping
    if not mapping.expand and not mapping.HasField("expand_kwargs"):
        raise InvalidArgument(
            f"task {task.task_id!r} is mapped but expands over nothing", field=f"{prefix}.mapping"
        )
    if mapping.expand and mapping.HasField("expand_kwargs"):
        raise InvalidArgument(
            f"task {task.task_id!r} uses both expand and expand_kwargs", field=f"{prefix}.mapping"
        )
    for name, value in mapping_values(mapping):
        where = f"{prefix}.mapping.expand[{name}]" if name else f"{prefix}.mapping.expand_kwargs"
        for ref in _xcom_refs(value):
            if ref.task_id not in upstream:
                raise InvalidArgument(
                    f"task {task.task_id!r} expands over the XCom of {ref.task_id!r}, which is not one of its upstream tasks",
                    field=where,
                )
        try:
            value_length(value, lambda _ref: None)
        except MappingError as exc:
            raise InvalidArgument(f"task {task.task_id!r}: {exc}", field=where) from None


def _xcom_refs(value: dag_pb2.Value) -> Iterator[dag_pb2.XComRef]:
    kind = value.WhichOneof("kind")
    if kind == "xcom":
        yield value.xcom
    elif kind == "list":
        for item in value.list.items:
            yield from _xcom_refs(item)
    elif kind == "dict":
        for item in value.dict.items.values():
            yield from _xcom_refs(item)
