"""DAG source shape (GET /api/v2/dagSources/{dag_id})."""

from __future__ import annotations

from .common import BaseModel


class DAGSourceResponse(BaseModel):
    content: str | None
    dag_id: str
    version_number: int | None
    dag_display_name: str
