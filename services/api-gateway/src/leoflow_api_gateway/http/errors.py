"""Errors in Airflow's HTTP shape, and the one place exceptions become responses.

Every error body is `{"detail": ...}`: a string for ordinary errors, FastAPI's list
of `{type, loc, msg, input}` for request validation (422). LeoflowErrors (raised
here or mapped back from a service's gRPC status) keep their own status code;
anything else is an internal error, logged once with an incident id and answered
with a generic message — never a traceback.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable
from typing import Any, TypeVar

import grpc
from leoflow_common.errors import InvalidArgument, LeoflowError, NotFound, Unavailable
from leoflow_common.grpc import error_from_rpc
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

log = logging.getLogger("leoflow_api_gateway")

T = TypeVar("T")


class HTTPError(Exception):
    """An HTTP answer decided by the gateway itself (Airflow's HTTPException)."""

    def __init__(self, status_code: int, detail: Any, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.headers = headers


class RequestValidationError(Exception):
    """A request that does not fit its schema: answered 422 in FastAPI's shape."""

    def __init__(self, errors: list[dict[str, Any]]):
        super().__init__(errors)
        self.errors = errors


def validation_error(loc: tuple[str | int, ...], msg: str, *, type_: str = "value_error", input_: Any = None) -> RequestValidationError:
    """One FastAPI-shaped validation error naming the offending field."""
    return RequestValidationError([{"type": type_, "loc": list(loc), "msg": msg, "input": input_}])


def from_pydantic(exc: ValidationError, prefix: tuple[str, ...]) -> RequestValidationError:
    """Pydantic's errors with `loc` prefixed by where the value came from ("body", "query", ...)."""
    errors = []
    for err in exc.errors(include_url=False):
        item: dict[str, Any] = {"type": err["type"], "loc": [*prefix, *err["loc"]], "msg": err["msg"], "input": err.get("input")}
        if err.get("ctx"):
            # ctx may hold the exception object that failed a validator: keep it JSON.
            item["ctx"] = {k: v if isinstance(v, (str, int, float, bool, type(None))) else str(v) for k, v in err["ctx"].items()}
        errors.append(item)
    return RequestValidationError(errors)


def invalid_input(error: LeoflowError, request: Request | None) -> RequestValidationError:
    """A service's InvalidArgument as FastAPI's 422: Airflow's spec documents 422 (not
    400) on almost every operation, and its body names the offending field."""
    reading = request is None or request.method in ("GET", "HEAD")
    where = "query" if reading else "body"
    field = error.field or where
    given = request.query_params.get(field) if (reading and request is not None) else None
    loc: tuple[str, ...] = (where,) if field == where else (where, *field.split("."))
    return validation_error(loc, error.message, input_=given)


def leoflow_error_of(exc: BaseException) -> LeoflowError | None:
    """The Leoflow error `exc` stands for, if it is one (a failed gRPC call included)."""
    if isinstance(exc, LeoflowError):
        return exc
    if isinstance(exc, grpc.aio.AioRpcError):
        error = error_from_rpc(exc)
        if isinstance(error, Unavailable) and exc.code() == grpc.StatusCode.UNAVAILABLE:
            # The raw message ("failed to connect to all addresses; ...") helps nobody.
            error = Unavailable("A Leoflow service is unavailable; try again shortly")
        return error
    return None


def internal_error_response(exc: BaseException, request: Request | None = None) -> JSONResponse:
    """Log `exc` once under a fresh incident id and answer a generic 500."""
    incident = uuid.uuid4().hex[:12]
    where = f"{request.method} {request.url.path}" if request is not None else "request"
    log.error("internal error %s while serving %s", incident, where, exc_info=exc)
    return JSONResponse({"detail": "Internal Server Error"}, status_code=500, headers={"X-Leoflow-Incident": incident})


def error_response(exc: BaseException, request: Request | None = None) -> Response:
    """The Airflow-shaped answer to `exc`."""
    if isinstance(exc, RequestValidationError):
        return JSONResponse({"detail": exc.errors}, status_code=422)
    if isinstance(exc, HTTPError):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    if isinstance(exc, HTTPException):
        return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    error = leoflow_error_of(exc)
    if isinstance(error, InvalidArgument) and request is not None and request.method in ("GET", "HEAD"):
        # Airflow's reads document 422, not 400, for a parameter they refuse.
        return JSONResponse({"detail": invalid_input(error, request).errors}, status_code=422)
    # 501 and 503 tell the caller something true and safe; a 500's message stays in the log.
    if error is not None and (error.http_status < 500 or error.http_status in (501, 503)):
        return JSONResponse({"detail": error.message}, status_code=error.http_status)
    return internal_error_response(exc, request)


async def or_404(call: Awaitable[T], not_found: HTTPError) -> T:
    """The call's answer; `not_found` (Airflow's wording of the 404) when the service says NotFound."""
    try:
        return await call
    except Exception as exc:
        if isinstance(leoflow_error_of(exc), NotFound):
            raise not_found from None
        raise
