"""Mapping between store records and xcom.v1 messages."""

from __future__ import annotations

from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.xcom.v1 import xcom_pb2

from ..store import XComRecord


def entry_message(record: XComRecord) -> xcom_pb2.XComEntry:
    i = record.id
    entry = xcom_pb2.XComEntry(
        key=keys_pb2.TaskInstanceKey(
            dag_id=i.dag_id, run_id=i.run_id, task_id=i.task_id, map_index=i.map_index
        ),
        xcom_key=i.key,
        size_bytes=record.size_bytes,
    )
    if record.value is not None:
        entry.value_json = record.value
    entry.timestamp.FromDatetime(record.timestamp)
    return entry
