"""Variable shapes (Airflow 3.2.2: VariableResponse, VariableBody, ...)."""

from __future__ import annotations

from pydantic import Field, JsonValue, field_validator

from .common import BaseModel, StrictBaseModel

NO_TEAMS = "team_name cannot be set when multi_team mode is disabled. Please contact your administrator."


class VariableResponse(BaseModel):
    key: str
    # Masked ("***", or inside JSON) where the key or a field looks sensitive.
    value: str
    description: str | None
    is_encrypted: bool
    team_name: str | None


class VariableCollectionResponse(BaseModel):
    variables: list[VariableResponse]
    total_entries: int


class VariableBody(StrictBaseModel):
    key: str = Field(min_length=1, max_length=250)
    value: JsonValue
    description: str | None = None
    team_name: str | None = Field(default=None, max_length=50)

    @field_validator("team_name")
    @classmethod
    def _no_teams(cls, value: str | None) -> str | None:
        # Airflow's answer while [core] multi_team is off; Leoflow has no teams. The
        # 3.2.2 UI's edit forms send team_name "" (no team), which Airflow accepts.
        if value:
            raise ValueError(NO_TEAMS)
        return None
