"""Connection shapes (Airflow 3.2.2: ConnectionResponse, ConnectionBody, ...)."""

from __future__ import annotations

import json

from pydantic import Field, field_validator

from .common import BaseModel, StrictBaseModel
from .variables import NO_TEAMS

INT32 = 2**31 - 1


class ConnectionResponse(BaseModel):
    connection_id: str
    conn_type: str
    description: str | None
    host: str | None
    login: str | None
    schema_: str | None = Field(alias="schema")
    port: int | None
    # "***" when one is stored: secrets never leave the control plane.
    password: str | None
    extra: str | None
    team_name: str | None


class ConnectionCollectionResponse(BaseModel):
    connections: list[ConnectionResponse]
    total_entries: int


class ConnectionTestResponse(BaseModel):
    status: bool
    message: str


class ConnectionBody(StrictBaseModel):
    connection_id: str = Field(max_length=200, pattern=r"^[\w.-]+$")
    conn_type: str
    description: str | None = None
    host: str | None = None
    login: str | None = None
    schema_: str | None = Field(default=None, alias="schema")
    port: int | None = Field(default=None, ge=-INT32 - 1, le=INT32)
    password: str | None = None
    extra: str | None = None
    team_name: str | None = Field(default=None, max_length=50)

    @field_validator("extra")
    @classmethod
    def _extra_is_a_json_object(cls, value: str | None) -> str | None:
        """Airflow's rule: a JSON object ("" meaning {})."""
        if value is None:
            return None
        if value == "":
            return "{}"
        try:
            data = json.loads(value)
        except ValueError:
            raise ValueError(
                "The `extra` field must be a valid JSON object (e.g., {'key': 'value'}), "
                "but encountered non-JSON in `extra` field"
            ) from None
        if not isinstance(data, dict):
            raise ValueError("The `extra` field must be a valid JSON object (e.g., {'key': 'value'})")
        return value

    @field_validator("team_name")
    @classmethod
    def _no_teams(cls, value: str | None) -> str | None:
        if value:  # "" is the UI form's "no team" (see variables.py)
            raise ValueError(NO_TEAMS)
        return None

    def fields_sent(self) -> set[str]:
        """The body's fields the client named (Airflow's names: "schema", not "schema_")."""
        return {"schema" if name == "schema_" else name for name in self.model_fields_set}
