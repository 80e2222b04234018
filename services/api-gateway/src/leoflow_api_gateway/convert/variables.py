"""Variables: VariableService messages <-> Airflow's shapes."""

from __future__ import annotations

import json

from leoflow_proto.scheduler.v1 import metadata_pb2

from ..datamodels.variables import VariableBody, VariableResponse


def _optional(message, name: str):
    return getattr(message, name) if message.HasField(name) else None


def variable_response(variable: metadata_pb2.Variable) -> VariableResponse:
    return VariableResponse(
        key=variable.key,
        value=variable.value,
        description=_optional(variable, "description"),
        is_encrypted=variable.is_encrypted,
        team_name=_optional(variable, "team_name"),
    )


def stored_text(value) -> str:
    """A variable's value as stored: text as given, any other JSON as its JSON text."""
    return value if isinstance(value, str) else json.dumps(value)


def variable_body(body: VariableBody) -> metadata_pb2.VariableBody:
    message = metadata_pb2.VariableBody(key=body.key, value=stored_text(body.value))
    if body.description is not None:
        message.description = body.description
    return message
