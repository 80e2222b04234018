"""GET /api/v2/auth/login and /api/v2/auth/logout (public): the redirects the UI
uses to reach the login page and to log out (Airflow's routes/public/auth.py)."""

from __future__ import annotations

import posixpath
from urllib.parse import unquote, urlencode, urljoin, urlparse

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from ...http.endpoint import PUBLIC, endpoint, gateway
from ...http.errors import HTTPError
from ...http.params import parse_query
from ...security import delete_token_cookie


class LoginQuery(BaseModel):
    next: str | None = None


def is_safe_url(target: str, request: Request, base_path: str) -> bool:
    """True when `target` stays on this origin, under the gateway's base path, over
    http(s): the login page will send the browser there after login."""
    target = unquote(target).strip()
    # Browsers read these as scheme-relative or backslash URLs (another host).
    if target.startswith(("//", "/\\", "\\/", "\\\\")):
        return False
    base = str(request.base_url)
    resolved = urlparse(urljoin(base, target))
    if resolved.scheme not in ("http", "https") or resolved.netloc != urlparse(base).netloc:
        return False
    root = posixpath.normpath(base_path or "/")
    path = posixpath.normpath(resolved.path or "/")
    return root == "/" or path == root or path.startswith(root + "/")


def login_url(request: Request) -> str:
    return gateway(request).settings.base_path + "/auth/login"


@endpoint(PUBLIC)
async def login(request: Request) -> Response:
    """307 to the login page, keeping `next` (refused when it leaves this site)."""
    query = parse_query(request, LoginQuery)
    url = login_url(request)
    if query.next:
        if not is_safe_url(query.next, request, gateway(request).settings.base_path):
            raise HTTPError(400, "Invalid or unsafe next URL")
        url += "?" + urlencode({"next": query.next})
    return RedirectResponse(url, status_code=307)


@endpoint(PUBLIC)
async def logout(request: Request) -> Response:
    """Clear the session cookie and go back to the login page. Tokens are stateless
    JWTs: the cookie goes, and a copied token expires at its `exp`."""
    settings = gateway(request).settings
    response = RedirectResponse(login_url(request), status_code=307)
    delete_token_cookie(response, settings.base_href, secure=settings.cookie_secure)
    return response


routes = [
    Route("/auth/login", login, methods=["GET"]),
    Route("/auth/logout", logout, methods=["GET"]),
]
