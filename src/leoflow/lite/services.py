"""The control plane of Lite: the same services the stack runs as separate
processes, here in one process on loopback, wired with Lite's adapters (managed
PostgreSQL, in-process bus, XCom in PostgreSQL, logs on disk, the local backend
with a virtualenv per DAG and a warm pool of agents)."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

from leoflow_api_gateway.app import GatewayApp
from leoflow_api_gateway.settings import GatewaySettings
from leoflow_common.bus import InProcessBus
from leoflow_common.settings import BusSettings, SecuritySettings, TelemetrySettings
from leoflow_dispatcher.app import DispatcherApp
from leoflow_dispatcher.settings import DispatcherSettings
from leoflow_logs.app import LogsApp
from leoflow_logs.settings import LogsSettings
from leoflow_scheduler.app import SchedulerApp
from leoflow_scheduler.settings import SchedulerSettings
from leoflow_xcom.app import XComApp
from leoflow_xcom.settings import XComSettings

from .ports import free_port
from .state import LiteState

log = logging.getLogger(__name__)

# Standby agents per DAG environment recently used (services/dispatcher: warm pool).
LITE_WARM_POOL_SIZE = 2
# Lite is one user on one laptop: small pools keep PostgreSQL's backends (and
# memory) few; the periodic loops are woken by events, their intervals are backstops.
SCHEDULER_TUNING = {
    "db_pool_min_size": 1,
    "db_pool_max_size": 10,
    "consumer_concurrency": 4,
    "leader_poll_interval": 2.0,
    "leader_watchdog_interval": 5.0,
    "outbox_sweep_interval": 10.0,
    "run_starter_interval": 10.0,
}


@dataclass
class ServiceOptions:
    database_url: str
    state: LiteState
    state_dir: Path
    home: Path
    workspace: Path
    host: str
    port: int
    log_json: bool = False


@dataclass
class ControlPlane:
    """Started services, in start order; stop() stops them in reverse."""

    bus: InProcessBus
    addresses: dict[str, str]
    apps: list = field(default_factory=list)
    gateway: GatewayApp | None = None

    async def stop(self) -> None:
        for app in reversed(self.apps):
            try:
                await app.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                log.exception("stopping %s failed", type(app).__name__)
        self.apps.clear()
        await self.bus.close()


def _settings_with_defaults(settings, defaults: dict):
    """`settings` with Lite's values for the fields its environment did not set."""
    update = {k: v for k, v in defaults.items() if k in type(settings).model_fields and k not in settings.model_fields_set}
    return settings.model_copy(update=update) if update else settings


async def start_control_plane(options: ServiceOptions) -> ControlPlane:
    """Start every service; on failure, stop what started and re-raise."""
    state = options.state
    security = SecuritySettings(
        jwt_secret=state.jwt_secret, agent_token_secret=state.agent_token_secret, secret_key=state.secret_key,
    )
    bus_settings = BusSettings(url="memory://")
    telemetry = TelemetrySettings(log_json=options.log_json)
    addresses = {name: f"127.0.0.1:{free_port()}" for name in ("scheduler", "dispatcher", "xcom", "logs")}
    bus = InProcessBus()
    await bus.start()
    plane = ControlPlane(bus, addresses)
    common = {"security": security, "bus": bus_settings, "telemetry": telemetry}
    try:
        scheduler = SchedulerApp(
            _settings_with_defaults(
                SchedulerSettings(database_url=options.database_url, grpc_bind=addresses["scheduler"],
                                  dags_are_paused_at_creation=False, **common),
                SCHEDULER_TUNING,
            ),
            bus=bus,
        )
        xcom = XComApp(
            XComSettings(backend="postgres", database_url=options.database_url, grpc_bind=addresses["xcom"], **common),
            bus=bus,
        )
        logs = LogsApp(
            LogsSettings(backend="disk", directory=options.state_dir / "logs", grpc_bind=addresses["logs"], **common),
            bus=bus,
        )
        dispatcher = DispatcherApp(
            _settings_with_defaults(
                DispatcherSettings(
                    grpc_bind=addresses["dispatcher"], advertise_address=addresses["dispatcher"],
                    xcom_address=addresses["xcom"], logs_address=addresses["logs"],
                    scheduler_address=addresses["scheduler"],
                    venv_root=options.home / "venvs", work_dir=options.state_dir / "dispatcher", **common,
                ),
                {"warm_pool_size": LITE_WARM_POOL_SIZE},
            ),
            bus=bus,
        )
        # The scheduler migrates the metadata database before anything else uses it;
        # the others have nothing to wait for each other.
        await _start(plane, scheduler)
        outcomes = await asyncio.gather(*(_started(a) for a in (xcom, logs, dispatcher)), return_exceptions=True)
        plane.apps.extend(o for o in outcomes if not isinstance(o, BaseException))
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        gateway = GatewayApp(
            GatewaySettings(
                host=options.host, port=options.port,
                scheduler_address=addresses["scheduler"], xcom_address=addresses["xcom"],
                logs_address=addresses["logs"], dispatcher_address=addresses["dispatcher"],
                ide_workspace=options.workspace, security=security, telemetry=telemetry,
            )
        )
        await _start(plane, gateway)
        plane.gateway = gateway
    except BaseException:
        await plane.stop()
        raise
    return plane


async def _start(plane: ControlPlane, app) -> None:
    await app.start()
    plane.apps.append(app)


async def _started(app):
    await app.start()
    return app
