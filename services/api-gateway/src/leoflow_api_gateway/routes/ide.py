"""/ide: Lite's embedded code editor over the DAG workspace (a Leoflow extension;
the Airflow UI itself stays unmodified).

Exists only when the gateway is given a workspace (LEOFLOW_GATEWAY_IDE_WORKSPACE,
which `leoflow lite` sets). Behind the same login as the UI: the page sends a
browser without a session to the login page; the file API needs the Admin role
(editing DAG code is running code on this machine) and, for changes, the
`X-Leoflow-IDE: 1` header, which a cross-site form or image cannot send (no
CORS is served, so a cross-site script cannot either). Paths are confined to the
workspace (ide_files.py).

    GET    /ide/                      the editor (built by scripts/build-ide.sh into LEOFLOW_GATEWAY_IDE_DIR)
    GET    /ide/assets/...            its static files
    GET    /ide/api/tree              {root, entries: [{path, type, size?}]}
    GET    /ide/api/file?path=        {path, content, mtime_ns}   (mtime_ns: a decimal string)
    PUT    /ide/api/file?path=        {content, expected_mtime_ns?} -> {path, mtime_ns}
    POST   /ide/api/entries           {path, type: file|dir} -> 201
    DELETE /ide/api/entries?path=     204
    POST   /ide/api/rename            {from, to} -> 200
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal
from urllib.parse import urlencode, urlparse

from leoflow_common.auth import Capability
from leoflow_common.errors import LeoflowError
from pydantic import Field
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from ..datamodels.common import StrictBaseModel
from ..http.endpoint import PUBLIC, endpoint, gateway
from ..http.errors import HTTPError, validation_error
from ..http.params import parse_body
from ..security import authenticate, request_credentials
from ..settings import GatewaySettings
from .ide_files import (
    EntryExists,
    EntryNotFound,
    NotEditable,
    Workspace,
    WorkspacePathError,
)

CSRF_HEADER = "x-leoflow-ide"
BASE_PLACEHOLDER = "{{ ide_base_href }}"
NOT_BUILT = "The editor is not built in {ide_dir}: run scripts/build-ide.sh (bootstrap.sh does). The file API works without it."


class SaveBody(StrictBaseModel):
    content: str
    # A decimal string: nanosecond timestamps do not fit a JavaScript number.
    expected_mtime_ns: str | None = Field(default=None, pattern=r"^[0-9]{1,20}$")


class CreateBody(StrictBaseModel):
    path: str = Field(min_length=1)
    type: Literal["file", "dir"]


class RenameBody(StrictBaseModel):
    source: str = Field(alias="from", min_length=1)
    target: str = Field(alias="to", min_length=1)


def _workspace(request: Request) -> Workspace:
    settings = gateway(request).settings
    assert settings.ide_workspace is not None  # routes exist only with a workspace
    return Workspace(settings.ide_workspace)


def _path_param(request: Request) -> str:
    path = request.query_params.get("path")
    if path is None:
        raise validation_error(("query", "path"), "Field required", type_="missing")
    return path


def _require_editor_request(request: Request) -> None:
    """Changes must come from the editor's own scripts (see the module docstring)."""
    if request.headers.get(CSRF_HEADER) != "1":
        raise HTTPError(403, "Changes to the workspace need the X-Leoflow-IDE: 1 header")
    origin = request.headers.get("origin")
    if origin and urlparse(origin).netloc != request.url.netloc:
        raise HTTPError(403, "Cross-origin changes to the workspace are refused")


async def _files(call, *args, **kwargs):
    """Run a file operation off the event loop; its errors as HTTP answers."""
    try:
        return await asyncio.to_thread(call, *args, **kwargs)
    except WorkspacePathError as exc:
        raise HTTPError(400, str(exc)) from None
    except EntryNotFound as exc:
        raise HTTPError(404, str(exc)) from None
    except EntryExists as exc:
        raise HTTPError(409, str(exc)) from None
    except NotEditable as exc:
        raise HTTPError(exc.status, str(exc)) from None
    except OSError as exc:
        raise HTTPError(409, f"the file system refused: {exc.strerror or exc}") from None


# -- the page ---------------------------------------------------------------------------


@endpoint(PUBLIC)
async def editor_page(request: Request) -> Response:
    """The editor for a logged-in user; the login page (then back here) otherwise."""
    gw = gateway(request)
    base = gw.settings.base_path
    try:
        principal = authenticate(request_credentials(request), gw.codec)
    except LeoflowError:
        return RedirectResponse(f"{base}/auth/login?{urlencode({'next': f'{base}/ide/'})}", status_code=302)
    if not principal.can(Capability.ADMIN):
        return PlainTextResponse("The editor needs the Admin role.", status_code=403)
    index = gw.settings.ide_dir / "index.html"
    if not index.is_file():
        return PlainTextResponse(NOT_BUILT.format(ide_dir=gw.settings.ide_dir), status_code=503)
    page = index.read_text(encoding="utf-8").replace(BASE_PLACEHOLDER, f"{base}/ide/")
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


@endpoint(PUBLIC)
async def editor_redirect(request: Request) -> Response:
    return RedirectResponse(f"{gateway(request).settings.base_path}/ide/", status_code=307)


# -- the file API -----------------------------------------------------------------------


@endpoint(Capability.ADMIN)
async def get_tree(request: Request) -> Response:
    workspace = _workspace(request)
    entries = await _files(workspace.tree)
    return JSONResponse({"root": workspace.root.name, "entries": entries})


@endpoint(Capability.ADMIN)
async def get_file(request: Request) -> Response:
    path = _path_param(request)
    content, mtime_ns = await _files(_workspace(request).read, path)
    return JSONResponse({"path": path, "content": content, "mtime_ns": str(mtime_ns)})


@endpoint(Capability.ADMIN)
async def save_file(request: Request) -> Response:
    _require_editor_request(request)
    path = _path_param(request)
    body = await parse_body(request, SaveBody)
    expected = int(body.expected_mtime_ns) if body.expected_mtime_ns is not None else None
    mtime_ns = await _files(_workspace(request).write, path, body.content, expected_mtime_ns=expected)
    return JSONResponse({"path": path, "mtime_ns": str(mtime_ns)})


@endpoint(Capability.ADMIN)
async def create_entry(request: Request) -> Response:
    _require_editor_request(request)
    body = await parse_body(request, CreateBody)
    await _files(_workspace(request).create, body.path, body.type)
    return JSONResponse({"path": body.path, "type": body.type}, status_code=201)


@endpoint(Capability.ADMIN)
async def delete_entry(request: Request) -> Response:
    _require_editor_request(request)
    await _files(_workspace(request).delete, _path_param(request))
    return Response(status_code=204)


@endpoint(Capability.ADMIN)
async def rename_entry(request: Request) -> Response:
    _require_editor_request(request)
    body = await parse_body(request, RenameBody)
    await _files(_workspace(request).rename, body.source, body.target)
    return JSONResponse({"from": body.source, "to": body.target})


class _EditorAssets:
    """The editor's static files; 503 saying what to run while they are not built."""

    def __init__(self, ide_dir: Path):
        self._ide_dir = ide_dir
        self._files: StaticFiles | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._files is None:
            if not (self._ide_dir / "assets").is_dir():
                response = PlainTextResponse(NOT_BUILT.format(ide_dir=self._ide_dir), status_code=503)
                await response(scope, receive, send)
                return
            self._files = StaticFiles(directory=self._ide_dir / "assets")
        await self._files(scope, receive, send)


def routes(settings: GatewaySettings) -> list[BaseRoute]:
    """The /ide routes; none at all unless the gateway has a workspace."""
    if settings.ide_workspace is None:
        return []
    ide_dir: Path = settings.ide_dir
    return [
        Route("/ide", editor_redirect, methods=["GET"]),
        Route("/ide/", editor_page, methods=["GET"]),
        Mount("/ide/assets", app=_EditorAssets(ide_dir), name="ide_assets"),
        Route("/ide/api/tree", get_tree, methods=["GET"]),
        Route("/ide/api/file", get_file, methods=["GET"]),
        Route("/ide/api/file", save_file, methods=["PUT"]),
        Route("/ide/api/entries", create_entry, methods=["POST"]),
        Route("/ide/api/entries", delete_entry, methods=["DELETE"]),
        Route("/ide/api/rename", rename_entry, methods=["POST"]),
        Route("/ide/{path:path}", _not_found, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
    ]


async def _not_found(request: Request) -> Response:
    return JSONResponse({"detail": "Not Found"}, status_code=404)
