"""Request parsing with FastAPI's semantics and error shape.

Query parameters and bodies are described by pydantic models (Airflow's own names);
a value that does not fit answers 422 with `loc` naming where it came from
(`["query", "limit"]`, `["body", "conf"]`, `["path", "try_number"]`).
"""

from __future__ import annotations

import json
import types
import typing
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from .errors import HTTPError, RequestValidationError, from_pydantic, validation_error

M = TypeVar("M", bound=BaseModel)


def _is_list(annotation: Any) -> bool:
    """True for list[...] and list[...] | None: such query parameters repeat (?tags=a&tags=b)."""
    origin = typing.get_origin(annotation)
    if origin is list:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_is_list(arg) for arg in typing.get_args(annotation))
    return False


def parse_query(request: Request, model: type[M]) -> M:
    """The request's query string as `model`; parameters the model does not name are ignored."""
    raw: dict[str, Any] = {}
    params = request.query_params
    for name, info in model.model_fields.items():
        key = info.alias or name
        if key not in params:
            continue
        raw[name] = params.getlist(key) if _is_list(info.annotation) else params.getlist(key)[-1]
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        raise from_pydantic(exc, ("query",)) from None


async def read_body(request: Request) -> bytes:
    """The raw body, refused with 413 beyond LEOFLOW_GATEWAY_MAX_BODY_BYTES (read
    as it arrives, so an oversized body is never held in memory whole)."""
    limit = request.app.state.gateway.settings.max_body_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPError(413, f"Request body larger than {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPError(413, f"Request body larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # Starlette's cache: form parsing and later reads reuse it
    return body


async def read_json(request: Request) -> Any:
    """The body as JSON: 422 (FastAPI's `missing` / `json_invalid`) if absent or not JSON."""
    raw = await read_body(request)
    if not raw.strip():
        raise validation_error(("body",), "Field required", type_="missing")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        position = getattr(exc, "pos", 0)
        reason = getattr(exc, "msg", "the body is not valid UTF-8")
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ["body", position], "msg": "JSON decode error", "input": {}, "ctx": {"error": reason}}]
        ) from None


async def parse_body(request: Request, model: type[M]) -> M:
    """The JSON body as `model` (Airflow's body models forbid unknown fields)."""
    data = await read_json(request)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise from_pydantic(exc, ("body",)) from None


def path_int(request: Request, name: str, *, minimum: int | None = None) -> int:
    """An integer path parameter, 422 if it is not one."""
    value = request.path_params[name]
    try:
        number = int(value)
    except ValueError:
        raise validation_error(
            ("path", name), "Input should be a valid integer, unable to parse string as an integer", type_="int_parsing", input_=value
        ) from None
    if number > 2**31 - 1:  # what the services' int32 fields hold
        raise validation_error(
            ("path", name), "Input should be less than or equal to 2147483647", type_="less_than_equal", input_=value
        )
    if minimum is not None and number < minimum:
        raise validation_error(
            ("path", name), f"Input should be greater than or equal to {minimum}", type_="greater_than_equal", input_=value
        )
    return number


def reject_unsupported(request: Request, names: frozenset[str]) -> None:
    """Airflow filters Leoflow cannot apply yet: refuse them (400) rather than ignore
    them and answer a list the caller did not ask for."""
    given = sorted(name for name in names if request.query_params.get(name) not in (None, ""))
    if given:
        raise HTTPError(400, f"Filter(s) not supported by Leoflow yet: {', '.join(given)}")
