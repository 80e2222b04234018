"""DAG version shapes, plus Leoflow's answer to registering a version."""

from __future__ import annotations

from datetime import datetime

from .common import BaseModel


class DagVersionResponse(BaseModel):
    id: str
    version_number: int
    dag_id: str
    bundle_name: str | None
    bundle_version: str | None
    created_at: datetime
    dag_display_name: str
    bundle_url: str | None


class DagVersionRegistrationResponse(DagVersionResponse):
    """Leoflow-specific (POST /api/v2/dags/{dag_id}/versions): the version plus
    whether this call created it (false: the same spec was already registered)."""

    created: bool


class DAGVersionCollectionResponse(BaseModel):
    dag_versions: list[DagVersionResponse]
    total_entries: int
