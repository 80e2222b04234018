"""DagRun shapes (Airflow 3.2.2: DAGRunResponse, TriggerDAGRunPostBody, ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, Field, NonNegativeInt, model_validator

from .common import (
    BaseModel,
    DagRunState,
    DagRunTriggeredByType,
    DagRunType,
    Int32NonNegative,
    StrictBaseModel,
)
from .dag_versions import DagVersionResponse


class DAGRunResponse(BaseModel):
    dag_run_id: str
    dag_id: str
    logical_date: datetime | None
    queued_at: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    duration: float | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    run_after: datetime
    last_scheduling_decision: datetime | None
    run_type: DagRunType
    state: DagRunState
    triggered_by: DagRunTriggeredByType | None
    triggering_user_name: str | None
    conf: dict[str, Any] | None
    note: str | None
    dag_versions: list[DagVersionResponse]
    bundle_version: str | None
    dag_display_name: str
    partition_key: str | None


class DAGRunCollectionResponse(BaseModel):
    dag_runs: list[DAGRunResponse]
    # Offset paging answers total_entries; cursor paging (?cursor=) the two cursors.
    total_entries: int | None = None
    next_cursor: str | None = None
    previous_cursor: str | None = None


class TriggerDAGRunPostBody(StrictBaseModel):
    """As in 3.2.2: logical_date is required but may be null; everything else optional."""

    dag_run_id: str | None = None
    data_interval_start: AwareDatetime | None = None
    data_interval_end: AwareDatetime | None = None
    logical_date: AwareDatetime | None
    # Airflow takes a naive run_after too (read as UTC); the other dates must be aware.
    run_after: datetime | None = None
    conf: dict[str, Any] | None = Field(default_factory=dict)
    note: str | None = None
    partition_key: str | None = None

    @model_validator(mode="after")
    def _check_data_intervals(self) -> TriggerDAGRunPostBody:
        if (self.data_interval_start is None) != (self.data_interval_end is None):
            raise ValueError(
                "Either both data_interval_start and data_interval_end must be provided or both must be None"
            )
        return self


class DAGRunPatchBody(StrictBaseModel):
    """What a user may change on a run: its state (queued, success, failed) and note."""

    state: Literal["queued", "success", "failed"] | None = None
    note: str | None = None


class DAGRunClearBody(StrictBaseModel):
    """Clear a run's task instances (a dry run unless told otherwise)."""

    dry_run: bool = True
    only_failed: bool = False
    only_new: bool = False
    run_on_latest_version: bool = False

    @model_validator(mode="after")
    def _exclusive(self) -> DAGRunClearBody:
        if self.only_new and self.only_failed:
            raise ValueError("only_new and only_failed are mutually exclusive")
        return self


class DAGRunsBatchBody(StrictBaseModel):
    """POST /dags/~/dagRuns/list: the run list's filters in a body."""

    order_by: str | None = None
    page_offset: Int32NonNegative = 0
    page_limit: NonNegativeInt = 100
    dag_ids: list[str] | None = None
    states: list[DagRunState | None] | None = None
    run_after_gte: AwareDatetime | None = None
    run_after_gt: AwareDatetime | None = None
    run_after_lte: AwareDatetime | None = None
    run_after_lt: AwareDatetime | None = None
    logical_date_gte: AwareDatetime | None = None
    logical_date_gt: AwareDatetime | None = None
    logical_date_lte: AwareDatetime | None = None
    logical_date_lt: AwareDatetime | None = None
    start_date_gte: AwareDatetime | None = None
    start_date_gt: AwareDatetime | None = None
    start_date_lte: AwareDatetime | None = None
    start_date_lt: AwareDatetime | None = None
    end_date_gte: AwareDatetime | None = None
    end_date_gt: AwareDatetime | None = None
    end_date_lte: AwareDatetime | None = None
    end_date_lt: AwareDatetime | None = None
    duration_gte: float | None = None
    duration_gt: float | None = None
    duration_lte: float | None = None
    duration_lt: float | None = None
    conf_contains: str | None = None
