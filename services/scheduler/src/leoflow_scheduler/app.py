"""SchedulerApp: the scheduler service, startable in-process (Lite, tests) or as
its own process (__main__).

start(): migrate (if configured) -> pool -> bus -> bootstrap admin -> gRPC API
(every replica) -> leader campaign. Only the elected leader consumes task events
and runs the outbox relay, retry timer, run timeout timer, run starter and housekeeping; losing the
lead stops them before anything else. stop() undoes start() in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from leoflow_common.auth import TokenCodec
from leoflow_common.bus import Bus, create_bus
from leoflow_common.db import create_pool
from leoflow_common.errors import Unavailable
from leoflow_common.grpc import GrpcServer, start_grpc_server
from leoflow_common.runtime import LeaderElector, PeriodicLoop
from leoflow_common.telemetry import grpc_server_interceptors

from . import migrations
from .api.metadata_policy import metadata_registrations
from .api.policy import registrations
from .consumers.task_events import subscribe_task_events
from .domain.context import SchedulerContext
from .domain.uow import WAKE_OUTBOX, WAKE_RETRIES, WAKE_RUNS
from .identity.users import bootstrap_admin
from .loops.housekeeping import Housekeeping
from .loops.outbox_relay import OutboxRelay
from .loops.retry_timer import RetryTimer
from .loops.run_starter import RunStarter
from .loops.run_timeout_timer import RunTimeoutTimer
from .loops.scheduling import scheduling_loops
from .loops.wake_listener import WakeListener
from .metrics import IS_LEADER
from .settings import SchedulerSettings

log = logging.getLogger(__name__)

HOUSEKEEPING_INTERVAL = 60.0


class SchedulerApp:
    """One scheduler replica (see the module docstring)."""

    def __init__(self, settings: SchedulerSettings, *, bus: Bus | None = None):
        self.settings = settings
        self._bus = bus
        self._owns_bus = bus is None
        self.ctx: SchedulerContext | None = None
        self.grpc_port: int | None = None
        self._server: GrpcServer | None = None
        self._elector: LeaderElector | None = None
        self._campaign: asyncio.Task | None = None

    @property
    def bus(self) -> Bus:
        assert self._bus is not None, "start() first"
        return self._bus

    @property
    def is_leader(self) -> bool:
        return self._elector is not None and self._elector.is_leader.is_set()

    async def wait_until_leader(self) -> None:
        assert self._elector is not None, "start() first"
        await self._elector.is_leader.wait()

    async def start(self) -> None:
        """Start serving (see the module docstring); on failure, undo what started."""
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        settings = self.settings
        if settings.migrate_on_start:
            await migrations.upgrade(settings.database_url)
        pool = await create_pool(
            settings.database_url,
            min_size=settings.db_pool_min_size,
            max_size=settings.db_pool_max_size,
        )
        self.ctx = SchedulerContext(pool=pool, settings=settings)
        if self._bus is None:
            self._bus = create_bus(
                settings.bus.url,
                namespace=settings.bus.namespace,
                max_deliveries=settings.bus.max_deliveries,
            )
            await self._bus.start()
        if settings.bootstrap_admin_password is not None:
            if await bootstrap_admin(
                self.ctx, settings.bootstrap_admin_password.get_secret_value()
            ):
                log.info('created the bootstrap user "admin"')
        agent_secret = settings.security.agent_token_secret
        codec = TokenCodec(
            settings.security.jwt_secret.get_secret_value(),
            agent_secret.get_secret_value() if agent_secret else None,
        )
        try:
            self._server = await start_grpc_server(
                registrations(self.ctx) + metadata_registrations(self.ctx),
                bind=settings.grpc_bind,
                codec=codec,
                extra_interceptors=grpc_server_interceptors(),
            )
        except (RuntimeError, OSError) as exc:  # grpc reports a busy port as RuntimeError
            raise Unavailable(f"cannot serve gRPC on {settings.grpc_bind}: {exc}") from exc
        self.grpc_port = self._server.port
        self._elector = LeaderElector(
            settings.database_url,
            settings.leader_lock_key,
            self._lead,
            poll_interval=settings.leader_poll_interval,
            watchdog_interval=settings.leader_watchdog_interval,
            name="scheduler",
        )
        self._campaign = asyncio.create_task(self._elector.run(), name="scheduler:campaign")
        log.info("scheduler serving gRPC on port %s", self.grpc_port)

    async def _lead(self) -> None:
        """Leader-only work; runs until cancelled (leadership lost or stop())."""
        ctx, settings = self.ctx, self.settings
        assert ctx is not None
        relay = PeriodicLoop(
            "outbox-relay",
            OutboxRelay(ctx, self.bus).run_once,
            interval=settings.outbox_sweep_interval,
        )
        starter = PeriodicLoop(
            "run-starter", RunStarter(ctx).run_once, interval=settings.run_starter_interval
        )
        housekeeping = PeriodicLoop(
            "housekeeping", Housekeeping(ctx).run_once, interval=HOUSEKEEPING_INTERVAL
        )
        timer = RetryTimer(ctx)
        timeouts = RunTimeoutTimer(ctx)
        disconnect = [
            ctx.signals.connect(WAKE_OUTBOX, relay.wake),
            ctx.signals.connect(WAKE_RUNS, starter.wake),
            ctx.signals.connect(WAKE_RETRIES, timer.wake),
            ctx.signals.connect(WAKE_RUNS, timeouts.wake),
        ]
        scheduling, undo_scheduling = scheduling_loops(ctx)
        disconnect += undo_scheduling
        consumer = await subscribe_task_events(ctx, self.bus)
        log.info("scheduler: leading")
        IS_LEADER.set(1)
        try:
            await asyncio.gather(
                relay.run(), starter.run(), housekeeping.run(), timer.run(), timeouts.run(),
                WakeListener(ctx).run(),
                *scheduling,
            )
        finally:
            for undo in disconnect:
                undo()
            await consumer.cancel()
            IS_LEADER.set(0)
            log.info("scheduler: no longer leading")

    async def stop(self) -> None:
        """Stop leading and serving, then close what this app opened (idempotent)."""
        if self._campaign is not None:
            self._campaign.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._campaign
            self._campaign = None
        if self._server is not None:
            await self._server.stop(grace=1.0)
            self._server = None
        if self._bus is not None and self._owns_bus:
            await self._bus.close()
            self._bus = None
        if self.ctx is not None:
            await self.ctx.pool.close()
            self.ctx = None
