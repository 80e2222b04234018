"""Import error shapes (Airflow 3.2.2: ImportErrorResponse, ImportErrorCollectionResponse)."""

from __future__ import annotations

from datetime import datetime

from .common import BaseModel


class ImportErrorResponse(BaseModel):
    import_error_id: int
    timestamp: datetime
    filename: str
    bundle_name: str | None
    stack_trace: str


class ImportErrorCollectionResponse(BaseModel):
    import_errors: list[ImportErrorResponse]
    total_entries: int
