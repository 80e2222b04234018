"""JSON responses in Airflow's conventions: datetimes ISO-8601 UTC with "Z", nulls
kept (Airflow serialises them explicitly except where noted), pydantic models as
the single description of each shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel
from starlette.responses import JSONResponse


def dump(model: BaseModel, *, exclude_none: bool = False) -> dict[str, Any]:
    return model.model_dump(mode="json", by_alias=True, exclude_none=exclude_none)


def json_response(
    content: BaseModel | Sequence[BaseModel] | dict[str, Any],
    *,
    status_code: int = 200,
    exclude_none: bool = False,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """`content` (a model, a list of models or plain JSON data) as an application/json response."""
    if isinstance(content, BaseModel):
        body: Any = dump(content, exclude_none=exclude_none)
    elif isinstance(content, dict):
        body = content
    else:
        body = [dump(item, exclude_none=exclude_none) for item in content]
    return JSONResponse(body, status_code=status_code, headers=headers)
