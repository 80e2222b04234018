"""GET /ui/calendar/{dag_id}: runs per day or hour, and the runs the schedule plans."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from ..common import BaseModel

CalendarState = Literal["queued", "running", "success", "failed", "planned"]


class CalendarTimeRangeResponse(BaseModel):
    date: datetime
    state: CalendarState
    count: int


class CalendarTimeRangeCollectionResponse(BaseModel):
    total_entries: int
    dag_runs: list[CalendarTimeRangeResponse]
