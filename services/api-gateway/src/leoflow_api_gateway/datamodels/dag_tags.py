"""Tag shapes."""

from __future__ import annotations

from .common import BaseModel


class DagTagResponse(BaseModel):
    name: str
    dag_id: str
    dag_display_name: str
