"""Connections: ConnectionService messages <-> Airflow's shapes."""

from __future__ import annotations

from leoflow_proto.scheduler.v1 import metadata_pb2

from ..datamodels.connections import ConnectionBody, ConnectionResponse

# ConnectionBody's optional fields, by Airflow's names.
OPTIONAL_FIELDS = ("description", "host", "login", "schema", "port", "password", "extra", "team_name")


def connection_response(connection: metadata_pb2.Connection) -> ConnectionResponse:
    values = {name: getattr(connection, name) if connection.HasField(name) else None for name in OPTIONAL_FIELDS}
    return ConnectionResponse(connection_id=connection.connection_id, conn_type=connection.conn_type, **values)


def connection_body(body: ConnectionBody) -> metadata_pb2.ConnectionBody:
    message = metadata_pb2.ConnectionBody(connection_id=body.connection_id, conn_type=body.conn_type)
    for name in OPTIONAL_FIELDS:
        value = getattr(body, "schema_" if name == "schema" else name)
        if value is not None:
            setattr(message, name, value)
    return message
