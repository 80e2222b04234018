"""The grid view's shapes (/ui/grid/structure, /ui/grid/runs, /ui/grid/ti_summaries)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ..common import BaseModel, DagRunState, DagRunType, TaskInstanceState
from ..dag_versions import DagVersionResponse


class GridNodeResponse(BaseModel):
    """A task (no children) or a task group (children) row of the grid."""

    id: str
    label: str
    children: list[GridNodeResponse] | None = None
    is_mapped: bool | None
    setup_teardown_type: Literal["setup", "teardown"] | None = None


class GridRunsResponse(BaseModel):
    dag_id: str
    run_id: str
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    run_after: datetime
    state: DagRunState | None
    run_type: DagRunType
    dag_versions: list[DagVersionResponse] = []
    # Leoflow has no deadlines (Airflow's DeadlineAlert): never missed.
    has_missed_deadline: bool
    duration: float


class LightGridTaskInstanceSummary(BaseModel):
    task_id: str
    task_display_name: str
    state: TaskInstanceState | None
    # state ("none" for no state yet) -> count, for groups and mapped tasks.
    child_states: dict[str, int] | None
    min_start_date: datetime | None
    max_end_date: datetime | None
    dag_version_number: int | None = None


class GridTISummaries(BaseModel):
    run_id: str
    dag_id: str
    task_instances: list[LightGridTaskInstanceSummary]
