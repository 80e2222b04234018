"""The Airflow 3.2.2 UI, served unmodified from the files scripts/fetch-ui.sh put
in LEOFLOW_GATEWAY_UI_DIR (ui/ = airflow/ui/dist, auth/ = the simple auth
manager's login page).

Invariants: the only change made to a file is the `{{ backend_server_base_url }}`
placeholder of the two index.html pages, replaced by the base href; hashed files
under assets/ are cached for a year (immutable), everything else revalidates.
Without the assets, the pages answer 503 telling the operator what to run, and the
API keeps working.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

PLACEHOLDER = "{{ backend_server_base_url }}"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
MISSING = (
    "The Airflow UI assets are not installed in {ui_dir}. Run scripts/fetch-ui.sh "
    "(or point LEOFLOW_GATEWAY_UI_DIR at them); the REST API works without them."
)


class _CachedStaticFiles(StaticFiles):
    """StaticFiles with cache headers: content-hashed assets/ files never change."""

    def file_response(self, full_path, stat_result, scope, status_code=200) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        relative = os.path.relpath(full_path, self.directory)
        response.headers["Cache-Control"] = IMMUTABLE if relative.startswith("assets" + os.sep) else REVALIDATE
        return response


class _AssetDirectory:
    """Static files of one directory, 503 while the directory does not exist."""

    def __init__(self, directory: Path, ui_dir: Path):
        self._directory = directory
        self._ui_dir = ui_dir
        self._files: _CachedStaticFiles | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._files is None:
            if not self._directory.is_dir():
                response = JSONResponse({"detail": MISSING.format(ui_dir=self._ui_dir)}, status_code=503)
                await response(scope, receive, send)
                return
            self._files = _CachedStaticFiles(directory=self._directory)
        await self._files(scope, receive, send)


class UiAssets:
    def __init__(self, ui_dir: Path, base_href: str):
        self.ui_dir = ui_dir
        self.base_href = base_href
        self._pages: dict[Path, str] = {}

    def _page(self, index: Path) -> str | None:
        """index.html with the base href filled in (read once, once it exists)."""
        page = self._pages.get(index)
        if page is None and index.is_file():
            page = index.read_text(encoding="utf-8").replace(PLACEHOLDER, self.base_href)
            self._pages[index] = page
        return page

    def _serve(self, index: Path) -> Response:
        page = self._page(index)
        if page is None:
            return PlainTextResponse(MISSING.format(ui_dir=self.ui_dir), status_code=503)
        return HTMLResponse(page, headers={"Cache-Control": REVALIDATE})

    async def spa(self, request: Request) -> Response:
        """Any page of the UI (React Router resolves the path in the browser)."""
        return self._serve(self.ui_dir / "ui" / "index.html")

    async def login_page(self, request: Request) -> Response:
        """The simple auth manager's login SPA (/auth/login and anything under /auth)."""
        return self._serve(self.ui_dir / "auth" / "index.html")

    def static_mount(self) -> Mount:
        return Mount("/static", app=_AssetDirectory(self.ui_dir / "ui", self.ui_dir), name="static")

    def login_static_mount(self) -> Mount:
        return Mount("/auth/static", app=_AssetDirectory(self.ui_dir / "auth", self.ui_dir), name="auth_static")

    def login_page_route(self) -> Route:
        return Route("/auth/{path:path}", self.login_page, methods=["GET"])

    def spa_route(self) -> Route:
        return Route("/{path:path}", self.spa, methods=["GET"])
