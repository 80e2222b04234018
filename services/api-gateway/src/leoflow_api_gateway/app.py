"""The gateway's ASGI app and its in-process HTTP server.

Routing precedence (as Airflow's api-server): /api/v2 and /ui (JSON APIs), the
login API and login page under /auth, the UI's files under /static, any other
/api or /ui path -> 404 JSON, and every other GET -> the UI's index.html (React
Router resolves it in the browser). All of it under LEOFLOW_GATEWAY_BASE_URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn
from leoflow_common.auth import TokenCodec
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .clients import GatewayClients
from .http.endpoint import Gateway
from .http.errors import internal_error_response
from .routes import ide, login, unimplemented
from .routes.public import (
    assets,
    auth,
    dag_run,
    dag_run_wait,
    dag_sources,
    dag_stats,
    dag_tags,
    dag_versions,
    dag_warning,
    dags,
    extra_links,
    hitl,
    import_error,
    log,
    monitor,
    plugins,
    task_instance_changes,
    task_instances,
    tasks,
    version,
    xcom,
    xcom_changes,
)
from .routes.public import backfills as public_backfills
from .routes.public import config as public_config
from .routes.public import connections as public_connections
from .routes.public import dag_favorites as public_dag_favorites
from .routes.public import event_log as public_event_log
from .routes.public import pools as public_pools
from .routes.public import providers as public_providers
from .routes.public import variables as public_variables
from .routes.ui import assets as ui_assets
from .routes.ui import auth as ui_auth
from .routes.ui import backfills as ui_backfills
from .routes.ui import calendar as ui_calendar
from .routes.ui import config as ui_config
from .routes.ui import connections as ui_connections
from .routes.ui import dags as ui_dags
from .routes.ui import dashboard as ui_dashboard
from .routes.ui import dependencies as ui_dependencies
from .routes.ui import gantt as ui_gantt
from .routes.ui import grid as ui_grid
from .routes.ui import partitioned_dag_runs as ui_partitioned_dag_runs
from .routes.ui import structure as ui_structure
from .routes.ui import teams as ui_teams
from .settings import GatewaySettings
from .ui_assets import UiAssets

logger = logging.getLogger("leoflow_api_gateway")

ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def _api_route_not_found(request: Request) -> Response:
    return JSONResponse({"detail": "API route not found"}, status_code=404)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    return JSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


class _ErrorBoundary:
    """Last line of defence: an exception no route handled (routes map their own)
    is logged once with an incident id and answered 500 JSON — never re-raised
    into the server, which would log a second traceback."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:  # noqa: BLE001 - the boundary
            response = internal_error_response(exc, Request(scope))
            if not started:
                await response(scope, receive, send)


def public_api_routes() -> list[BaseRoute]:
    """/api/v2: specific paths first; .../{task_id}/{map_index} last of all."""
    implemented = [
        *version.routes,
        *monitor.routes,
        *auth.routes,
        *dag_versions.routes,
        *dag_sources.routes,
        *dag_stats.routes,
        *dag_tags.routes,
        *dags.routes,
        *tasks.routes,
        *dag_run_wait.routes,
        *dag_run.routes,
        *task_instances.routes,
        *task_instance_changes.routes,
        *extra_links.routes,
        *log.routes,
        *xcom.routes,
        *xcom_changes.routes,
        *public_variables.routes,
        *public_connections.routes,
        *public_event_log.routes,
        *public_dag_favorites.routes,
        *public_config.routes,
        *public_providers.routes,
        *public_backfills.routes,
        *public_pools.routes,
        # Airflow features Leoflow does not have: their valid empty answers.
        *plugins.routes,
        *import_error.routes,
        *dag_warning.routes,
        *hitl.routes,
        *assets.routes,
    ]
    catch_all = task_instances.catch_all_routes
    return [*implemented, *unimplemented.public_routes([*implemented, *catch_all]), *catch_all]


def ui_api_routes() -> list[BaseRoute]:
    implemented = [
        *ui_config.routes,
        *ui_auth.routes,
        *ui_dags.routes,
        *ui_dashboard.routes,
        *ui_grid.routes,
        *ui_structure.routes,
        *ui_calendar.routes,
        *ui_gantt.routes,
        *ui_dependencies.routes,
        *ui_assets.routes,
        *ui_partitioned_dag_runs.routes,
        *ui_connections.routes,
        *ui_teams.routes,
        *ui_backfills.routes,
    ]
    return [*implemented, *unimplemented.ui_routes(implemented)]


def build_routes(settings: GatewaySettings) -> list[BaseRoute]:
    assets = UiAssets(settings.ui_dir, settings.base_href)
    routes: list[BaseRoute] = [
        Mount("/api/v2", routes=public_api_routes()),
        Mount("/ui", routes=ui_api_routes()),
        *login.routes,
        assets.login_static_mount(),
        assets.login_page_route(),
        assets.static_mount(),
        Route("/api/{path:path}", _api_route_not_found, methods=ALL_METHODS),
        Route("/ui/{path:path}", _api_route_not_found, methods=ALL_METHODS),
        *ide.routes(settings),  # Lite's editor: only with a workspace
        assets.spa_route(),
    ]
    if settings.base_path:
        routes = [Mount(settings.base_path, routes=routes)]
    return routes


def create_asgi_app(settings: GatewaySettings, clients: GatewayClients) -> Starlette:
    """The gateway as an ASGI app over `clients` (tests build it directly)."""
    codec = TokenCodec(settings.security.jwt_secret.get_secret_value())
    app = Starlette(
        routes=build_routes(settings),
        middleware=[
            # Airflow compresses bodies of 1 KiB and more. NDJSON is left alone: a
            # followed log must reach the client line by line, not when a buffer fills.
            Middleware(
                GZipMiddleware,
                minimum_size=1024,
                compresslevel=5,
                exclude_content_types=(*DEFAULT_EXCLUDED_CONTENT_TYPES, "application/x-ndjson"),
            ),
            Middleware(_ErrorBoundary),
        ],
        exception_handlers={HTTPException: _http_exception},
    )
    app.state.gateway = Gateway(settings=settings, clients=clients, codec=codec)
    return app


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without its signal handlers: the process embedding the gateway (its
    own __main__, or Lite running every service) decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class GatewayApp:
    """The gateway service: `await start()` serves HTTP on the running event loop
    (afterwards `http_port` is the bound port, also when PORT=0); `await stop()`."""

    def __init__(self, settings: GatewaySettings, clients: GatewayClients | None = None):
        self.settings = settings
        self.clients = clients
        self._owns_clients = clients is None
        self.http_port: int | None = None
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        settings = self.settings
        if self.clients is None:
            self.clients = GatewayClients.connect(
                scheduler=settings.scheduler_address,
                xcom=settings.xcom_address,
                logs=settings.logs_address,
                dispatcher=settings.dispatcher_address,
                rpc_timeout=settings.rpc_timeout,
            )
        app = create_asgi_app(settings, self.clients)
        family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
        # proto=IPPROTO_TCP, not the default 0: asyncio turns Nagle off (TCP_NODELAY)
        # only on sockets that say they are TCP. With Nagle on, a response written
        # in two parts waits for the client's delayed ACK: 40 ms per keep-alive call.
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((settings.host, settings.port))
        sock.set_inheritable(True)
        self.http_port = sock.getsockname()[1]
        config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, server_header=False)
        self._server = _EmbeddedServer(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="api-gateway-http")
        while not self._server.started:
            if self._task.done():  # startup failed: surface its exception
                await self._task
                raise RuntimeError("the gateway's HTTP server stopped during startup")
            await asyncio.sleep(0.01)
        logger.info("api-gateway serving on %s:%s%s", settings.host, self.http_port, settings.base_href)

    async def stop(self) -> None:
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            await self._task
        self._server = self._task = None
        if self._owns_clients and self.clients is not None:
            await self.clients.close()
            self.clients = None
