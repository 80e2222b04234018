"""Task log shapes (Airflow 3.2.2's TaskInstancesLogResponse).

Each content item is a StructuredLogMessage: `{timestamp?, event, ...any keys}`
(additionalProperties; `timestamp` is optional but never null). They are built
as plain JSON objects by convert/log.py, since their keys are open-ended.
"""

from __future__ import annotations

from typing import Any

from .common import BaseModel


class TaskInstancesLogResponse(BaseModel):
    content: list[dict[str, Any]]
    continuation_token: str | None
