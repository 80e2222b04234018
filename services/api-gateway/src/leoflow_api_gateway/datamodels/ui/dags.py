"""GET /ui/dags: the DAG list page's DAGs, each with its latest runs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..common import BaseModel, DagRunState
from ..dags import DAGResponse


class DAGRunLightResponse(BaseModel):
    id: int
    dag_id: str
    run_id: str
    logical_date: datetime | None
    run_after: datetime
    start_date: datetime | None
    end_date: datetime | None
    state: DagRunState
    duration: float | None


class DAGWithLatestDagRunsResponse(DAGResponse):
    asset_expression: dict[str, Any] | None
    latest_dag_runs: list[DAGRunLightResponse]
    # Human-in-the-loop actions: Leoflow has none, so always empty.
    pending_actions: list[dict[str, Any]]
    is_favorite: bool


class DAGWithLatestDagRunsCollectionResponse(BaseModel):
    total_entries: int
    dags: list[DAGWithLatestDagRunsResponse]
