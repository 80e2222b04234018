"""POST /auth/token (and /auth/token/cli): Airflow's simple auth manager login,
as the login page and API clients use it. The scheduler checks the password
(IdentityService.AuthenticateUser, called with the gateway's own service token);
the gateway mints the user's JWT."""

from __future__ import annotations

from leoflow_common.errors import NotFound, PermissionDenied, Unauthenticated
from leoflow_proto.scheduler.v1 import identity_pb2
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..clients import acting_as
from ..datamodels.auth import LoginBody, LoginResponse
from ..http.endpoint import PUBLIC, endpoint, gateway
from ..http.errors import HTTPError, from_pydantic, leoflow_error_of
from ..http.params import read_body, read_json
from ..http.responses import json_response
from ..metrics import LOGINS

GATEWAY_SERVICE_NAME = "api-gateway"


async def parse_login_body(request: Request) -> LoginBody:
    """JSON or form-encoded {username, password}; anything else is 415."""
    content_type = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        await read_body(request)  # the size limit applies to forms too
        form = await request.form()
        data: object = {key: form.get(key) for key in ("username", "password") if form.get(key) is not None}
    elif content_type == "application/json":
        data = await read_json(request)
    else:
        raise HTTPError(415, "Unsupported Media Type")
    try:
        return LoginBody.model_validate(data)
    except ValidationError as exc:
        raise from_pydantic(exc, ("body",)) from None


async def create_token_for(request: Request, ttl: int) -> Response:
    body = await parse_login_body(request)
    if not body.username or not body.password:
        raise HTTPError(400, "Username and password must be provided")
    gw = gateway(request)
    call = identity_pb2.AuthenticateUserRequest(
        tenant_id=gw.settings.security.default_tenant, username=body.username, password=body.password
    )
    try:
        # No user is known yet: this one call is made as the gateway itself.
        with acting_as(gw.codec.mint_service(GATEWAY_SERVICE_NAME, ttl=60)):
            answer = await gw.clients.identity.AuthenticateUser(call)
    except Exception as exc:
        # Unknown user, wrong password, disabled user: one answer, saying nothing more.
        if isinstance(leoflow_error_of(exc), Unauthenticated | NotFound | PermissionDenied):
            LOGINS.labels("invalid_credentials").inc()
            raise HTTPError(401, "Invalid credentials") from None
        LOGINS.labels("error").inc()
        raise
    user = answer.user
    if not user.active:
        LOGINS.labels("invalid_credentials").inc()
        raise HTTPError(401, "Invalid credentials")
    LOGINS.labels("success").inc()
    token = gw.codec.mint_user(
        user.username, user.tenant_id or gw.settings.security.default_tenant, list(user.roles), ttl=ttl
    )
    return json_response(LoginResponse(access_token=token), status_code=201)


@endpoint(PUBLIC)
async def create_token(request: Request) -> Response:
    """201 {access_token}, valid for LEOFLOW_GATEWAY_JWT_EXPIRATION seconds."""
    return await create_token_for(request, gateway(request).settings.jwt_expiration)


@endpoint(PUBLIC)
async def create_token_cli(request: Request) -> Response:
    """As /auth/token, with the CLI's (shorter) token lifetime."""
    return await create_token_for(request, gateway(request).settings.jwt_cli_expiration)


@endpoint(PUBLIC)
async def create_token_all_admins(request: Request) -> Response:
    """Airflow's password-less admin mode; Leoflow always asks for a password."""
    raise HTTPError(403, "Leoflow has no anonymous admin mode: POST /auth/token with a username and password")


routes = [
    Route("/auth/token", create_token, methods=["POST"]),
    Route("/auth/token", create_token_all_admins, methods=["GET"]),
    Route("/auth/token/cli", create_token_cli, methods=["POST"]),
]
