"""XCom shapes (Airflow 3.2.2: XComResponse, XComResponseNative, ...)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .common import BaseModel, Int32, StrictBaseModel


class XComResponse(BaseModel):
    key: str
    timestamp: datetime
    logical_date: datetime | None
    map_index: int
    task_id: str
    dag_id: str
    run_id: str
    dag_display_name: str
    task_display_name: str
    run_after: datetime


class XComResponseNative(XComResponse):
    value: Any


class XComResponseString(XComResponse):
    value: str | None


class XComCollectionResponse(BaseModel):
    xcom_entries: list[XComResponse]
    total_entries: int


class XComCreateBody(StrictBaseModel):
    key: str
    value: Any
    map_index: Int32 = -1


class XComUpdateBody(StrictBaseModel):
    value: Any
    map_index: Int32 = -1
