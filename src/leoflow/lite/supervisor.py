"""Lite: every Leoflow service in one process on loopback, a managed PostgreSQL,
and the DAG workspace kept registered (hot reload).

Start order: the home's lock (one Lite per home) -> the UI port checked free ->
PostgreSQL -> the control plane (services.py) -> the admin user -> the workspace
(examples copied into a new one) -> every DAG folder compiled and registered ->
the watcher. Stop undoes it in reverse: the watcher, the services (the dispatcher
stops the task processes), PostgreSQL, the lock. Task processes and PostgreSQL are
children of this process; a Lite that dies anyway leaves nothing that blocks the
next start (postgres.py, lock.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from leoflow_common.auth import TokenCodec
from leoflow_common.grpc import client_channel, static_token
from leoflow_common.settings import SecuritySettings
from leoflow_proto.scheduler.v1 import identity_pb2, identity_pb2_grpc

from .lock import LiteLock
from .ports import free_port, port_is_free
from .postgres import ManagedPostgres
from .registrar import BuildReporter, DagRegistrar, LogReporter
from .services import ControlPlane, ServiceOptions, start_control_plane
from .state import LiteState, leoflow_home
from .watcher import WorkspaceWatcher
from .workspace import WorkspaceIndex

log = logging.getLogger(__name__)

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
ADMIN = "admin"


class LiteStartError(RuntimeError):
    """Lite cannot start (one line saying why and what to do)."""


@dataclass
class LiteOptions:
    workspace: Path
    host: str = "127.0.0.1"
    port: int = 8088
    log_json: bool = False
    watch: bool = True


@dataclass
class LiteSupervisor:
    options: LiteOptions
    home: Path = field(default_factory=leoflow_home)
    printer: object = print  # where the one-time admin password and the banner go
    reporter: BuildReporter = field(default_factory=LogReporter)

    def __post_init__(self) -> None:
        self.state_dir = LiteState.directory()
        self.lock = LiteLock(self.state_dir)
        self.state: LiteState | None = None
        self.postgres: ManagedPostgres | None = None
        self.plane: ControlPlane | None = None
        self.registrar: DagRegistrar | None = None
        self.watcher: WorkspaceWatcher | None = None
        self.timings: dict[str, float] = {}

    # -- start ---------------------------------------------------------------------

    async def start(self) -> None:
        """Start everything (see the module docstring); on failure, undo and raise."""
        started = time.perf_counter()
        self.lock.acquire("lite")  # LiteAlreadyRunning names the running one
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        self.timings["ready"] = time.perf_counter() - started
        log.info("started in %.2f s (PostgreSQL %.2f s, services %.2f s, DAG folders %.2f s)", self.timings["ready"],
                 self.timings["postgres"], self.timings["services"], self.timings["dags"])

    async def _start(self) -> None:
        options = self.options
        if options.port and not port_is_free(options.port, options.host):
            raise LiteStartError(f"port {options.port} on {options.host} is in use: stop what listens there or pass --port")
        self.state = state = LiteState.load()
        if not state.pg_port or not port_is_free(state.pg_port):
            state.pg_port = free_port()
        first_start = not state.workspace
        state.workspace = str(options.workspace)
        state.save()

        mark = time.perf_counter()
        self.postgres = await asyncio.to_thread(ManagedPostgres.prepare, self.state_dir, state.pg_port)
        await self.postgres.start()
        if self.postgres.port != state.pg_port:  # its port was taken meanwhile: another one serves
            state.pg_port = self.postgres.port
            state.save()
        dsn = await self.postgres.ensure_database()
        self.timings["postgres"] = time.perf_counter() - mark

        mark = time.perf_counter()
        self.plane = await start_control_plane(
            ServiceOptions(
                database_url=dsn, state=state, state_dir=self.state_dir, home=self.home,
                workspace=options.workspace, host=options.host, port=options.port, log_json=options.log_json,
            )
        )
        self.timings["services"] = time.perf_counter() - mark
        self.lock.describe(url=self.url)

        codec = TokenCodec(state.jwt_secret)
        tenant = SecuritySettings.model_fields["default_tenant"].default
        await self._ensure_admin(codec, tenant)
        self._ensure_workspace(first_start)
        self.printer(f"UI at {self.url} — registering the DAG folders of {options.workspace}")
        mark = time.perf_counter()
        self.registrar = DagRegistrar(
            workspace=options.workspace, home=self.home, index=WorkspaceIndex.load(self.state_dir / "workspace.json"),
            scheduler_address=self.plane.addresses["scheduler"], token=codec.mint_user(ADMIN, tenant, ["Admin"], ttl=10 * 365 * 86400),
            reporter=self.reporter, compiled_dir=self.state_dir / "compiled",
        )
        if options.watch:
            # Watch before the first sync, so an edit made meanwhile is not missed.
            self.watcher = WorkspaceWatcher(options.workspace, self.registrar)
            self.watcher.start()
        await self.registrar.sync_all()
        self.timings["dags"] = time.perf_counter() - mark
        self._write_cli_credentials(codec, tenant)
        self.printer(f"Leoflow Lite is ready: {self.url} (user {ADMIN}; workspace {options.workspace}; editor {self.url}/ide/)")

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.options.host in ("0.0.0.0", "::", "") else self.options.host
        if ":" in host:
            host = f"[{host}]"
        gateway = self.plane.gateway if self.plane else None
        port = gateway.http_port if gateway and gateway.http_port else self.options.port
        return f"http://{host}:{port}"

    async def _ensure_admin(self, codec: TokenCodec, tenant: str) -> None:
        """Create the admin user on first start and print its password, once."""
        assert self.state is not None and self.plane is not None
        if self.state.admin_created:
            return
        password = secrets.token_urlsafe(12)
        await set_password(codec.mint_user(ADMIN, tenant, ["Admin"]), self.plane.addresses["scheduler"], ADMIN, password)
        self.state.admin_created = True
        self.state.save()
        self.printer(f"admin password: {password}  (shown once; `leoflow lite reset-password` sets a new one)")

    def _ensure_workspace(self, first_start: bool) -> None:
        """Copy the example DAGs into a workspace that does not exist yet (or that is
        empty on this home's first start: a folder made for Lite beforehand)."""
        workspace = self.options.workspace
        if workspace.exists() and not (first_start and not any(workspace.iterdir())):
            return
        workspace.mkdir(parents=True, exist_ok=True)
        if EXAMPLES.is_dir():
            for example in sorted(EXAMPLES.iterdir()):
                if (example / "leoflow.yaml").exists():
                    shutil.copytree(example, workspace / example.name,
                                    ignore=shutil.ignore_patterns("dag.json", "Dockerfile", "__pycache__"))

    def _write_cli_credentials(self, codec: TokenCodec, tenant: str) -> None:
        """So `leoflow push/dags/runs` work against this Lite without a login."""
        path = self.home / "credentials.json"
        token = codec.mint_user(ADMIN, tenant, ["Admin"], ttl=30 * 86400)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"server": self.url, "token": token}))
        tmp.chmod(0o600)
        tmp.replace(path)

    # -- stop ----------------------------------------------------------------------

    async def stop(self) -> None:
        """Stop everything that started, in reverse order (idempotent)."""
        if self.watcher is not None:
            await self.watcher.stop()
            self.watcher = None
        if self.registrar is not None:
            await self.registrar.stop()
            self.registrar = None
        if self.plane is not None:
            await self.plane.stop()
            self.plane = None
        if self.postgres is not None:
            await asyncio.to_thread(self.postgres.stop)
            self.postgres = None
        self.lock.release()

    def kill(self) -> None:
        """Last resort (a second Ctrl-C): stop PostgreSQL at once; the caller exits."""
        if self.postgres is not None:
            self.postgres.stop(timeout=2)


async def set_password(admin_token: str, scheduler_address: str, username: str, password: str) -> None:
    """Set (or create) a user's password through the scheduler's IdentityService."""
    channel = client_channel(scheduler_address, static_token(admin_token))
    try:
        await identity_pb2_grpc.IdentityServiceStub(channel).SetUserPassword(
            identity_pb2.SetUserPasswordRequest(username=username, password=password, roles=["Admin"])
        )
    finally:
        await channel.close()
