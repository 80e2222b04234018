"""Backfill shapes (Airflow 3.2.2: BackfillPostBody, BackfillResponse, the dry run)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from .common import BaseModel, Int32, StrictBaseModel

ReprocessBehavior = Literal["failed", "completed", "none"]


class BackfillPostBody(StrictBaseModel):
    dag_id: str
    from_date: datetime
    to_date: datetime
    run_backwards: bool = False
    dag_run_conf: dict[str, Any] | None = None
    reprocess_behavior: ReprocessBehavior = "none"
    max_active_runs: Int32 = 10
    run_on_latest_version: bool = True


class BackfillResponse(BaseModel):
    id: int
    dag_id: str
    from_date: datetime
    to_date: datetime
    dag_run_conf: dict[str, Any] | None
    is_paused: bool
    reprocess_behavior: ReprocessBehavior
    max_active_runs: int
    created_at: datetime
    completed_at: datetime | None
    updated_at: datetime
    dag_display_name: str


class BackfillCollectionResponse(BaseModel):
    backfills: list[BackfillResponse]
    total_entries: int


class DryRunBackfillResponse(BaseModel):
    logical_date: datetime | None
    partition_key: str | None
    partition_date: datetime | None


class DryRunBackfillCollectionResponse(BaseModel):
    backfills: list[DryRunBackfillResponse]
    total_entries: int
