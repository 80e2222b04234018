"""Database rows -> API messages (scheduler/v1 models)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from google.protobuf import struct_pb2
from leoflow_common.states import DagRunState, DagRunType, TaskInstanceState
from leoflow_proto.scheduler.v1 import identity_pb2, models_pb2

from ..dagspec.canonical import spec_from_dict
from ..domain.failure_kinds import failure_kind_from_db


def _get(row, key: str, default: Any = None) -> Any:
    try:
        return row[key]
    except KeyError:
        return default


def _set_ts(message, field: str, value: datetime | None) -> None:
    if value is not None:
        getattr(message, field).FromDatetime(value)


def _struct(value: dict[str, Any] | None) -> struct_pb2.Struct | None:
    if value is None:
        return None
    result = struct_pb2.Struct()
    result.update(value)
    return result


def dag_version(row, *, with_spec: bool = False) -> models_pb2.DagVersion:
    """A DagVersion message; with the spec when `with_spec`."""
    message = models_pb2.DagVersion(
        id=str(row["id"]),
        dag_id=row["dag_id"],
        version_number=row["version_number"],
        spec_hash=row["spec_hash"],
        bundle_name=row["bundle_name"],
        bundle_version=row["bundle_version"],
    )
    _set_ts(message, "created_at", row["created_at"])
    if with_spec:
        message.spec.CopyFrom(spec_from_dict(row["spec"]))
    return message


def _joined_version(row) -> models_pb2.DagVersion | None:
    """The version columns a run / task-instance query joined in, if any."""
    version_id = _get(row, "dag_version_id")
    number = _get(row, "dag_version_number")
    if version_id is None or number is None:
        return None
    message = models_pb2.DagVersion(
        id=str(version_id),
        dag_id=row["dag_id"],
        version_number=number,
        spec_hash=_get(row, "dag_version_hash") or "",
        bundle_name=_get(row, "dag_version_bundle_name") or "",
        bundle_version=_get(row, "dag_version_bundle_version") or "",
    )
    _set_ts(message, "created_at", _get(row, "dag_version_created_at"))
    return message


def dag(row, *, latest_version=None, latest_runs=()) -> models_pb2.Dag:
    """A Dag message from a `dags` row (and its latest version and runs, when given)."""
    message = models_pb2.Dag(
        dag_id=row["dag_id"],
        display_name=row["display_name"],
        description=row["description"],
        is_paused=row["is_paused"],
        is_stale=row["is_stale"],
        has_import_errors=bool(_get(row, "has_import_errors", False)),
        tags=row["tags"],
        owners=row["owners"],
        timetable_summary=row["timetable_summary"] or "",
        timetable_description=row["timetable_description"] or "",
        max_active_runs=row["max_active_runs"],
        max_active_tasks=row["max_active_tasks"],
        max_consecutive_failed_dag_runs=row["max_consecutive_failed_dag_runs"],
        has_task_concurrency_limits=row["has_task_concurrency_limits"],
        fileloc=row["fileloc"],
        relative_fileloc=row["relative_fileloc"],
        catchup=row["catchup"],
        timezone=row["timezone"],
    )
    for field in ("last_parsed_time", "start_date", "end_date", "created_at"):
        _set_ts(message, field, row[field])
    for field in ("logical_date", "data_interval_start", "data_interval_end", "run_after"):
        _set_ts(message, f"next_dagrun_{field}", row[f"next_dagrun_{field}"])
    if latest_version is not None:
        message.latest_version.CopyFrom(dag_version(latest_version))
    elif row["latest_version_id"] is not None:
        message.latest_version.CopyFrom(
            models_pb2.DagVersion(
                id=str(row["latest_version_id"]),
                dag_id=row["dag_id"],
                version_number=row["latest_version_number"],
            )
        )
    message.latest_runs.extend(dag_run(r) for r in latest_runs)
    message.is_favorite = bool(_get(row, "is_favorite", False))
    return message


def dag_run(row) -> models_pb2.DagRun:
    """A DagRun message from a run row (with its version when the query joined it)."""
    message = models_pb2.DagRun(
        id=row["id"],
        dag_id=row["dag_id"],
        run_id=row["run_id"],
        state=DagRunState(row["state"]).to_proto(),
        run_type=DagRunType(row["run_type"]).to_proto(),
        triggered_by=row["triggered_by"] or "",
        triggering_user_name=row["triggering_user_name"] or "",
        note=row["note"] or "",
        display_name=row["run_id"],
    )
    for field in (
        "logical_date", "queued_at", "start_date", "end_date", "data_interval_start", "data_interval_end",
        "run_after", "last_scheduling_decision",
    ):  # fmt: skip
        _set_ts(message, field, row[field])
    conf = _struct(row["conf"])
    if conf is not None:
        message.conf.CopyFrom(conf)
    version = _joined_version(row)
    if version is not None:
        message.dag_version.CopyFrom(version)
    return message


def task_instance(row) -> models_pb2.TaskInstance:
    """A TaskInstance message from a task-instance or history row."""
    message = models_pb2.TaskInstance(
        id=str(_get(row, "task_instance_id") or row["id"]),
        dag_id=row["dag_id"],
        run_id=row["run_id"],
        task_id=row["task_id"],
        map_index=row["map_index"],
        state=TaskInstanceState.from_db(row["state"]).to_proto(),
        try_number=row["try_number"],
        max_tries=row["max_tries"],
        hostname=row["hostname"],
        pid=row["pid"] or 0,
        operator_name=row["operator"],
        pool=row["pool"],
        pool_slots=row["pool_slots"],
        queue=row["queue"],
        priority_weight=row["priority_weight"],
        executor="",
        note=row["note"] or "",
        rendered_map_index=row["rendered_map_index"],
        exit_code=row["exit_code"] or 0,
        error=row["error"],
        failure_kind=failure_kind_from_db(row["failure_kind"]),
        task_display_name=row["task_display_name"] or row["task_id"],
    )
    for field, column in (
        ("start_date", "start_date"), ("end_date", "end_date"), ("queued_when", "queued_at"),
        ("scheduled_when", "scheduled_at"), ("next_retry_at", "next_retry_at"),
        ("logical_date", "run_logical_date"), ("run_after", "run_run_after"),
    ):  # fmt: skip
        _set_ts(message, field, _get(row, column))
    rendered = _struct(row["rendered_fields"])
    if rendered is not None:
        message.rendered_fields.CopyFrom(rendered)
    version = _joined_version(row)
    if version is not None:
        message.dag_version.CopyFrom(version)
    return message


def user(row) -> identity_pb2.User:
    """A User message (never the password hash)."""
    return identity_pb2.User(
        tenant_id=row["tenant_id"],
        username=row["username"],
        roles=row["roles"],
        active=row["active"],
    )
