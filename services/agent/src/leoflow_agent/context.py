"""The task context document: what the agent tells the runner about the try.

`context_document` turns the TaskExecution into a JSON document that travels in
every work frame; the runner builds Airflow's context from it
(airflow._shim.context.build_context: pendulum dates, `dag_run.conf`, `ti` with
xcom_pull, `macros`, `var`, `conn`, ...), so tasks, templates and callbacks all
see the same values. The agent itself never renders templates: that needs the
DAG's Jinja environment, which lives in the DAG file.

Date fields are ISO 8601 strings in UTC, or None when the run has none (Airflow 3
manual runs may have no logical date).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

_DATE_FIELDS = ("logical_date", "data_interval_start", "data_interval_end", "run_after", "start_date")
_PREVIOUS_FIELDS = ("start_date", "end_date", "data_interval_start", "data_interval_end")


def _plain_number(value: Any) -> Any:
    """protobuf Struct stores every number as a double; give integers back as ints."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _plain_number(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_number(v) for v in value]
    return value


def _struct_to_dict(struct: Any) -> dict[str, Any]:
    from google.protobuf import json_format

    return _plain_number(json_format.MessageToDict(struct))


def _timestamp_iso(message: Any, field: str) -> str | None:
    if not message.HasField(field):
        return None
    return getattr(message, field).ToDatetime(tzinfo=dt.UTC).isoformat()


def context_document(execution: Any, *, hostname: str = "") -> dict[str, Any]:
    """The JSON-able context of one TaskExecution (leoflow.dag.v1.TaskExecution)."""
    from leoflow_proto.common.v1 import states_pb2

    run = execution.run
    key = execution.key
    run_type = states_pb2.DagRunType.Name(run.run_type).removeprefix("DAG_RUN_TYPE_").lower()
    document: dict[str, Any] = {
        "dag_id": key.dag_id or run.dag_id,
        "task_id": key.task_id,
        "run_id": key.run_id or run.run_id,
        "map_index": key.map_index,
        "try_number": execution.try_number,
        "max_tries": execution.max_tries,
        "owner": execution.task.owner,
        "hostname": hostname,
        "task_instance_id": execution.task_instance_id,
        "dag_version_id": execution.dag_version_id,
        "ti_start_date": dt.datetime.now(dt.UTC).isoformat(),
        "run_type": "" if run_type == "unspecified" else run_type,
        "conf": _struct_to_dict(run.conf),
        "params": _struct_to_dict(run.params),
        "timezone": run.timezone or "UTC",
        "previous_success": None,
    }
    for field in _DATE_FIELDS:
        document[field] = _timestamp_iso(run, field)
    if run.HasField("previous_success"):
        previous = run.previous_success
        document["previous_success"] = {field: _timestamp_iso(previous, field) for field in _PREVIOUS_FIELDS}
    return document


def airflow_ctx_env(document: dict[str, Any]) -> dict[str, str]:
    """The AIRFLOW_CTX_* variables Airflow exports to every task's process."""
    env = {
        "AIRFLOW_CTX_DAG_ID": document["dag_id"],
        "AIRFLOW_CTX_TASK_ID": document["task_id"],
        "AIRFLOW_CTX_DAG_RUN_ID": document["run_id"],
        "AIRFLOW_CTX_TRY_NUMBER": str(document["try_number"]),
    }
    if document.get("owner"):
        env["AIRFLOW_CTX_DAG_OWNER"] = document["owner"]
    if document.get("logical_date"):
        env["AIRFLOW_CTX_LOGICAL_DATE"] = document["logical_date"]
    return env
