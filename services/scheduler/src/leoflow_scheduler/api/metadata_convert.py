"""Metadata messages <-> the metadata package's inputs and views."""

from __future__ import annotations

from datetime import datetime

from leoflow_proto.scheduler.v1 import metadata_pb2

from ..metadata.connections import FIELDS as CONNECTION_FIELDS
from ..metadata.connections import ConnectionInput, ConnectionView
from ..metadata.task_secrets import TaskConnection, TaskVariable
from ..metadata.variables import VariableInput, VariableView


def _optional(message, name: str):
    return getattr(message, name) if message.HasField(name) else None


def _set_optional(message, name: str, value) -> None:
    if value is not None:
        setattr(message, name, value)


def _fields(mask, message, names: tuple[str, ...], always: tuple[str, ...]) -> frozenset[str]:
    """The fields an update writes: the mask, or (none given) the always-written
    ones plus every optional field the message carries."""
    if mask:
        return frozenset(mask)
    return frozenset(always) | {n for n in names if n not in always and message.HasField(n)}


def variable_input(body: metadata_pb2.VariableBody, mask=()) -> VariableInput:
    return VariableInput(
        key=body.key,
        value=body.value,
        description=_optional(body, "description"),
        team_name=_optional(body, "team_name"),
        fields=_fields(mask, body, ("description", "team_name"), ("value",)),
    )


def variable(view: VariableView) -> metadata_pb2.Variable:
    message = metadata_pb2.Variable(key=view.key, value=view.value, is_encrypted=view.is_encrypted)
    _set_optional(message, "description", view.description)
    _set_optional(message, "team_name", view.team_name)
    return message


_OPTIONAL_CONNECTION_FIELDS = tuple(n for n in CONNECTION_FIELDS if n != "conn_type")


def connection_input(body: metadata_pb2.ConnectionBody, mask=()) -> ConnectionInput:
    return ConnectionInput(
        connection_id=body.connection_id,
        conn_type=body.conn_type,
        **{name: _optional(body, name) for name in _OPTIONAL_CONNECTION_FIELDS},
        fields=_fields(mask, body, _OPTIONAL_CONNECTION_FIELDS, ("conn_type",)),
    )


def connection(view: ConnectionView) -> metadata_pb2.Connection:
    message = metadata_pb2.Connection(connection_id=view.connection_id, conn_type=view.conn_type)
    for name in _OPTIONAL_CONNECTION_FIELDS:
        _set_optional(message, name, getattr(view, name))
    return message


def _set_ts(message, name: str, value: datetime | None) -> None:
    if value is not None:
        getattr(message, name).FromDatetime(value)


def event_log(row) -> metadata_pb2.EventLog:
    message = metadata_pb2.EventLog(
        event_log_id=row["id"],
        dag_id=row["dag_id"] or "",
        task_id=row["task_id"] or "",
        run_id=row["run_id"] or "",
        event=row["event"],
        owner=row["owner"] or "",
        dag_display_name=row["dag_display_name"] or "",
        task_display_name=row["task_display_name"] or "",
    )
    _set_ts(message, "when", row["dttm"])
    _set_ts(message, "logical_date", row["logical_date"])
    _set_optional(message, "map_index", row["map_index"])
    _set_optional(message, "try_number", row["try_number"])
    _set_optional(message, "extra", row["extra"])
    return message


def task_variable(item: TaskVariable) -> metadata_pb2.TaskVariable:
    return metadata_pb2.TaskVariable(
        key=item.key, value=item.value, sensitive=item.sensitive, secret_values=item.secret_values
    )


def task_connection(item: TaskConnection) -> metadata_pb2.TaskConnection:
    message = metadata_pb2.TaskConnection(
        connection_id=item.connection_id, conn_type=item.conn_type, secret_values=item.secret_values
    )
    for name in ("description", "host", "login", "schema", "port", "password", "extra"):
        _set_optional(message, name, getattr(item, name))
    return message
