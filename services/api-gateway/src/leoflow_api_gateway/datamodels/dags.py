"""DAG shapes (Airflow 3.2.2: DAGResponse, DAGDetailsResponse, ...)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from .common import BaseModel, DagRunType, StrictBaseModel
from .dag_tags import DagTagResponse
from .dag_versions import DagVersionResponse


class DAGResponse(BaseModel):
    dag_id: str
    dag_display_name: str
    is_paused: bool
    is_stale: bool
    last_parsed_time: datetime | None
    last_parse_duration: float | None
    last_expired: datetime | None
    bundle_name: str | None
    bundle_version: str | None
    relative_fileloc: str | None
    fileloc: str
    description: str | None
    timetable_summary: str | None
    timetable_description: str | None
    timetable_partitioned: bool
    tags: list[DagTagResponse]
    max_active_tasks: int
    max_active_runs: int | None
    max_consecutive_failed_dag_runs: int
    has_task_concurrency_limits: bool
    has_import_errors: bool
    next_dagrun_logical_date: datetime | None
    next_dagrun_data_interval_start: datetime | None
    next_dagrun_data_interval_end: datetime | None
    next_dagrun_run_after: datetime | None
    allowed_run_types: list[DagRunType] | None
    owners: list[str]
    file_token: str


class DAGCollectionResponse(BaseModel):
    dags: list[DAGResponse]
    total_entries: int


class DAGDetailsResponse(DAGResponse):
    catchup: bool
    dag_run_timeout: timedelta | None
    asset_expression: dict[str, Any] | None
    doc_md: str | None
    start_date: datetime | None
    end_date: datetime | None
    is_paused_upon_creation: bool | None
    params: dict[str, Any] | None
    render_template_as_native_obj: bool
    template_search_path: list[str] | None
    timezone: str | None
    last_parsed: datetime | None
    default_args: dict[str, Any] | None
    owner_links: dict[str, str] | None = None
    is_favorite: bool = False
    active_runs_count: int = 0
    # Deprecated in Airflow (= max_active_tasks) but still required by its schema.
    concurrency: int
    latest_dag_version: DagVersionResponse | None


class DAGPatchBody(StrictBaseModel):
    is_paused: bool


class DAGPatchBodyPartial(StrictBaseModel):
    """DAGPatchBody when `update_mask` names the fields to change."""

    is_paused: bool | None = None
