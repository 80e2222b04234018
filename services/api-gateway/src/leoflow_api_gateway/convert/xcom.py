"""XComEntry (+ its DagRun and task names) -> XComResponse*, with Airflow's
deserialize / stringify variants of a single entry."""

from __future__ import annotations

import json
from typing import Any

from leoflow_proto.scheduler.v1 import models_pb2
from leoflow_proto.xcom.v1 import xcom_pb2

from ..datamodels.xcom import XComResponse, XComResponseNative, XComResponseString
from .common import required_ts, ts


def _fields(entry: xcom_pb2.XComEntry, run: models_pb2.DagRun, names: tuple[str, str]) -> dict[str, Any]:
    dag_display_name, task_display_name = names
    return {
        "key": entry.xcom_key,
        "timestamp": required_ts(entry, "timestamp"),
        "logical_date": ts(run, "logical_date"),
        "map_index": entry.key.map_index,
        "task_id": entry.key.task_id,
        "dag_id": entry.key.dag_id,
        "run_id": entry.key.run_id,
        "dag_display_name": dag_display_name,
        "task_display_name": task_display_name,
        "run_after": required_ts(run, "run_after"),
    }


def xcom_response(entry: xcom_pb2.XComEntry, run: models_pb2.DagRun, names: tuple[str, str]) -> XComResponse:
    """`names` = (DAG display name, task display name), looked up by the caller."""
    return XComResponse(**_fields(entry, run, names))


def xcom_value(entry: xcom_pb2.XComEntry) -> Any:
    """The stored JSON document (Leoflow stores plain JSON, no serde envelope)."""
    if not entry.value_json:
        return None
    return json.loads(entry.value_json)


def xcom_entry_response(
    entry: xcom_pb2.XComEntry,
    run: models_pb2.DagRun,
    names: tuple[str, str],
    *,
    stringify: bool,
) -> XComResponseNative | XComResponseString:
    """Airflow's GET .../xcomEntries/{key}. Leoflow's values are plain JSON, so the raw
    and the deserialized forms are the same document; `stringify` gives Airflow's
    str() of the value (Python's rendering, as Airflow returns it)."""
    value = xcom_value(entry)
    fields = _fields(entry, run, names)
    if stringify:
        return XComResponseString(**fields, value=None if value is None else str(value))
    return XComResponseNative(**fields, value=value)
