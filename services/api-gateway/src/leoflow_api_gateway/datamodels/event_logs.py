"""Event log shapes (Airflow 3.2.2: EventLogResponse, EventLogCollectionResponse)."""

from __future__ import annotations

from datetime import datetime

from .common import BaseModel


class EventLogResponse(BaseModel):
    event_log_id: int
    when: datetime
    dag_id: str | None
    task_id: str | None
    run_id: str | None
    map_index: int | None
    try_number: int | None
    event: str
    logical_date: datetime | None
    owner: str | None
    extra: str | None
    dag_display_name: str | None = None
    task_display_name: str | None = None


class EventLogCollectionResponse(BaseModel):
    event_logs: list[EventLogResponse]
    total_entries: int
