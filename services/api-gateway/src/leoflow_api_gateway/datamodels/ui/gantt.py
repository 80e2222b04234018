"""GET /ui/gantt/{dag_id}/{run_id}: one bar per try of each unmapped task."""

from __future__ import annotations

from datetime import datetime

from ..common import BaseModel, TaskInstanceState


class GanttTaskInstance(BaseModel):
    task_id: str
    task_display_name: str
    try_number: int
    state: TaskInstanceState | None
    scheduled_dttm: datetime | None
    queued_dttm: datetime | None
    start_date: datetime | None
    end_date: datetime | None
    is_group: bool = False
    is_mapped: bool = False


class GanttResponse(BaseModel):
    dag_id: str
    run_id: str
    task_instances: list[GanttTaskInstance]
