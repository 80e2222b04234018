"""What the variables, connections and event-log routes share."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from ...http.errors import HTTPError, from_pydantic, validation_error
from ...http.params import read_json

M = TypeVar("M", bound=BaseModel)

# Airflow's SortParam.MAX_SORT_PARAMS.
MAX_SORT_PARAMS = 10


def check_order_by(order_by: list[str]) -> None:
    """Airflow refuses more than ten sort keys (400)."""
    if len(order_by) > MAX_SORT_PARAMS:
        raise HTTPError(
            400, f"Ordering with more than {MAX_SORT_PARAMS} parameters is not allowed. Provided: {order_by}"
        )


def _refuse_nul(value: Any, loc: tuple[str | int, ...]) -> None:
    """No stored name or text can hold a NUL character (PostgreSQL text cannot, a
    task's environment cannot): a client's mistake, refused with where it is."""
    if isinstance(value, str):
        if "\x00" in value:
            raise validation_error(loc, "Input should not contain NUL characters", input_=value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key, loc)
            _refuse_nul(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(item, (*loc, index))


async def parse_body_without_nul(request: Request, model: type[M]) -> M:
    """The JSON body as `model` (422 as FastAPI would), NUL characters refused anywhere in it."""
    data = await read_json(request)
    _refuse_nul(data, ("body",))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_pydantic(exc, ("body",)) from None
