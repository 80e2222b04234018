"""DAG run statistics (Airflow 3.2.2: DagStatsCollectionResponse)."""

from __future__ import annotations

from .common import BaseModel, DagRunState


class DagStatsStateResponse(BaseModel):
    state: DagRunState
    count: int


class DagStatsResponse(BaseModel):
    dag_id: str
    dag_display_name: str
    stats: list[DagStatsStateResponse]


class DagStatsCollectionResponse(BaseModel):
    dags: list[DagStatsResponse]
    total_entries: int
