"""/ui/auth: who the user is (/ui/auth/me), which navigation entries the UI shows
(/ui/auth/menus) and the user menu's "generate token" dialog (POST /ui/auth/token)."""

from __future__ import annotations

from leoflow_common.auth import Capability
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...datamodels.ui.auth import (
    AuthenticatedMeResponse,
    GenerateTokenBody,
    GenerateTokenResponse,
    MenuItemCollectionResponse,
)
from ...http.endpoint import endpoint, gateway, principal_of
from ...http.errors import HTTPError
from ...http.params import parse_body
from ...http.responses import json_response

# The least capability that may use each page, in Airflow's menu order (the simple
# auth manager's rules: reads of DAGs, pools, config and providers for every role,
# connections and variables from Op up). Airflow's "Required Actions", "Assets" and
# "Jobs" are left out: Leoflow has no human-in-the-loop tasks, assets or jobs, so
# those pages could only ever be empty.
MENU_CAPABILITIES: dict[str, Capability] = {
    "Audit Log": Capability.READ,
    "Config": Capability.READ,
    "Connections": Capability.OPERATE,
    "Dags": Capability.READ,
    "Docs": Capability.READ,
    "Plugins": Capability.READ,
    "Pools": Capability.READ,
    "Providers": Capability.READ,
    "Variables": Capability.OPERATE,
    "XComs": Capability.READ,
}


@endpoint(Capability.READ)
async def get_current_user_info(request: Request) -> Response:
    principal = principal_of(request)
    return json_response(AuthenticatedMeResponse(id=principal.subject, username=principal.subject))


@endpoint(Capability.READ)
async def get_auth_menus(request: Request) -> Response:
    principal = principal_of(request)
    items = [item for item, needed in MENU_CAPABILITIES.items() if principal.can(needed)]
    return json_response(MenuItemCollectionResponse(authorized_menu_items=items, extra_menu_items=[]))


@endpoint(Capability.READ)
async def generate_token(request: Request) -> Response:
    """A fresh token for the caller, with the caller's own roles: "api" tokens live
    as long as a login's, "cli" tokens as long as /auth/token/cli's."""
    body = await parse_body(request, GenerateTokenBody)
    gw = gateway(request)
    principal = principal_of(request)
    if principal.kind != "user":  # a service's token must not turn into a user's
        raise HTTPError(403, "Forbidden")
    ttl = gw.settings.jwt_expiration if body.token_type == "api" else gw.settings.jwt_cli_expiration
    token = gw.codec.mint_user(principal.subject, principal.tenant_id, list(principal.roles), ttl=ttl)
    return json_response(GenerateTokenResponse(access_token=token, token_type=body.token_type, expires_in_seconds=ttl))


routes = [
    Route("/auth/me", get_current_user_info, methods=["GET"]),
    Route("/auth/menus", get_auth_menus, methods=["GET"]),
    Route("/auth/token", generate_token, methods=["POST"]),
]
