"""Who is calling: Airflow's rules for finding the user's JWT.

An `Authorization: Bearer` header wins (CLI, API clients); otherwise the `_token`
cookie (the browser UI never sends a header, not even on its raw `fetch` calls).
Missing -> 401 "Not authenticated"; expired -> 401 "Token Expired"; a token that
does not verify -> 403 "Invalid JWT token" (the UI goes to the login page on
both); a principal without the needed role -> 403 "Forbidden".
"""

from __future__ import annotations

from dataclasses import dataclass

from leoflow_common.auth import Principal, TokenCodec, bearer_token
from leoflow_common.errors import PermissionDenied, Unauthenticated
from starlette.requests import Request
from starlette.responses import Response

COOKIE_NAME_JWT_TOKEN = "_token"


@dataclass(frozen=True, slots=True)
class Credentials:
    token: str
    from_cookie: bool


def request_credentials(request: Request) -> Credentials | None:
    """The token the request presents, and where it came from."""
    token = bearer_token(request.headers.get("authorization"))
    if token:
        return Credentials(token, from_cookie=False)
    cookie = request.cookies.get(COOKIE_NAME_JWT_TOKEN)
    if cookie:
        return Credentials(cookie, from_cookie=True)
    return None


def authenticate(credentials: Credentials | None, codec: TokenCodec) -> Principal:
    """The user (or control-plane service) the credentials stand for."""
    if credentials is None:
        raise Unauthenticated("Not authenticated")
    principal = codec.verify(credentials.token)
    if principal.kind == "agent":
        # Agent tokens are for one task's own calls to dispatcher/xcom/logs, never REST.
        raise PermissionDenied("Forbidden")
    return principal


def delete_token_cookie(response: Response, cookie_path: str, *, secure: bool) -> None:
    """Clear `_token` at the cookie path and at "/" (a stale root cookie would loop logins)."""
    for path in {cookie_path, "/"}:
        response.delete_cookie(COOKIE_NAME_JWT_TOKEN, path=path, secure=secure, httponly=True, samesite="lax")
