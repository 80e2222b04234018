"""The route boundary: authentication, the capability check, the acting token for
gRPC calls, and the translation of every exception into an Airflow-shaped answer.

Each route handler is wrapped by `endpoint(capability)`; a handler never sees a
request its caller may not make, and never lets an exception escape.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from leoflow_common.auth import Capability, Principal, TokenCodec, require
from leoflow_common.errors import PermissionDenied, Unauthenticated
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from starlette.requests import Request
from starlette.responses import Response

from ..clients import GatewayClients, acting_as
from ..metrics import REQUEST_SECONDS, REQUESTS
from ..security import authenticate, delete_token_cookie, request_credentials
from ..settings import GatewaySettings
from .errors import error_response, validation_error

Handler = Callable[[Request], Awaitable[Response]]

_tracer = trace.get_tracer("leoflow_api_gateway")


@dataclass
class Gateway:
    """What every route needs, built once by the composition root (app.state.gateway)."""

    settings: GatewaySettings
    clients: GatewayClients
    codec: TokenCodec


def gateway(request: Request) -> Gateway:
    return request.app.state.gateway


def principal_of(request: Request) -> Principal:
    """The authenticated caller of a non-public route."""
    return request.state.principal


# Public routes: no authentication at all (version, health, login/logout redirects).
PUBLIC = None


def endpoint(capability: Capability | None) -> Callable[[Handler], Handler]:
    """Wrap a route handler: READ for reads, EXECUTE for writes, PUBLIC for open routes.

    Each request is one span (the gRPC calls it makes are its children, so a trace
    follows a trigger into the scheduler) and one observation of the metrics."""

    def decorate(handler: Handler) -> Handler:
        operation = handler.__name__

        @functools.wraps(handler)
        async def run(request: Request) -> Response:
            started = time.perf_counter()
            with _tracer.start_as_current_span(f"{request.method} {operation}", kind=SpanKind.SERVER) as span:
                response = await _answer(request, handler, capability)
                span.set_attribute("http.request.method", request.method)
                span.set_attribute("http.response.status_code", response.status_code)
            REQUESTS.labels(operation, str(response.status_code)).inc()
            REQUEST_SECONDS.labels(operation).observe(time.perf_counter() - started)
            return response

        return run

    return decorate


async def _answer(request: Request, handler: Handler, capability: Capability | None) -> Response:
    gw = gateway(request)
    credentials = None
    try:
        principal = None
        if capability is not None:
            credentials = request_credentials(request)
            principal = require(authenticate(credentials, gw.codec), capability)
        request.state.principal = principal
        _refuse_nul(request)
        with acting_as(principal.token if principal else None):
            return await handler(request)
    except Exception as exc:  # noqa: BLE001 - every exception becomes an answer here
        response = error_response(exc, request)
        if credentials is not None and credentials.from_cookie and _token_rejected(exc):
            # As Airflow's JWTRefreshMiddleware: drop a cookie that will never work.
            delete_token_cookie(response, gw.settings.base_href, secure=gw.settings.cookie_secure)
        return response


def _refuse_nul(request: Request) -> None:
    """A NUL character can be in no name or value Leoflow stores (PostgreSQL text
    cannot hold one): refuse it as a client's mistake instead of failing in a query."""
    for location, items in (("path", request.path_params.items()), ("query", request.query_params.multi_items())):
        for name, value in items:
            if "\x00" in str(value) or "\x00" in name:
                raise validation_error((location, name), "Input should not contain NUL characters", input_=value)


def _token_rejected(exc: BaseException) -> bool:
    """The presented token itself was refused (not a permission the user lacks)."""
    if isinstance(exc, Unauthenticated):
        return True
    return isinstance(exc, PermissionDenied) and exc.message == "Invalid JWT token"
