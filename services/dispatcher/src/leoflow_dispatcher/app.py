"""The dispatcher, assembled: AgentService on gRPC, the dispatch-request and cancel
consumers, the supervision loops, and the execution backend.

Start order: lock the work dir, bind gRPC (agents need the address before any
launch), recover remembered executions, then start the loops and consumers.
Stop order is the reverse, so nothing is launched once stopping began.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping

from leoflow_common.auth import TokenCodec
from leoflow_common.bus import Bus, Consumer, Subscriptions, create_bus
from leoflow_common.grpc import GrpcServer, start_grpc_server
from leoflow_common.runtime import PeriodicLoop
from leoflow_common.telemetry import grpc_server_interceptors

from .api.agent_servicer import AgentServiceServicer, agent_service_registration
from .backends import ExecutionBackend, create_backend
from .capacity import Capacity
from .consumers.cancels import CancelsConsumer
from .consumers.dispatch_requests import DispatchRequestsConsumer
from .journal import Journal
from .lifecycle import Limits
from .loops import process_finished_executions, process_outboxes, process_overdue_executions
from .settings import DispatcherSettings
from .supervisor import Supervisor
from .task_secrets import TaskSecretsClient
from .workdir import WorkDirLock

log = logging.getLogger(__name__)


class DispatcherApp:
    """One dispatcher replica. Pass `bus` to share one (Lite): it is then neither
    started nor closed here. `host_env` is where the agents' PATH, HOME, LANG,
    LC_ALL and TZ come from (default: this process's environment)."""

    def __init__(
        self,
        settings: DispatcherSettings,
        *,
        bus: Bus | None = None,
        host_env: Mapping[str, str] | None = None,
    ):
        self.settings = settings
        self._given_bus = bus
        self._host_env = dict(os.environ if host_env is None else host_env)
        self.bus: Bus | None = bus
        self.grpc_port: int = 0
        self.advertise_address: str = ""
        self.supervisor: Supervisor | None = None
        self.backend: ExecutionBackend | None = None
        self._lock = WorkDirLock(settings.work_dir)
        self._server: GrpcServer | None = None
        self._consumers: list[Consumer] = []
        self._loops: list[asyncio.Task] = []
        self._task_secrets: TaskSecretsClient | None = None

    async def start(self) -> None:
        """Serve AgentService and start consuming; afterwards `grpc_port` is bound."""
        self._lock.acquire()
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        settings = self.settings
        if self.bus is None:
            self.bus = create_bus(
                settings.bus.url,
                namespace=settings.bus.namespace,
                max_deliveries=settings.bus.max_deliveries,
            )
            await self.bus.start()
        codec = TokenCodec(
            settings.security.jwt_secret.get_secret_value(), settings.agent_token_secret
        )
        self._task_secrets = TaskSecretsClient(settings.scheduler_address, codec)
        journal = Journal(settings.work_dir / "executions")
        journal.open()
        self.backend = create_backend(settings, host_env=self._host_env)
        self.supervisor = Supervisor(
            backend=self.backend,
            bus=self.bus,
            journal=journal,
            codec=codec,
            limits=Limits(
                heartbeat_timeout=settings.heartbeat_timeout,
                startup_timeout=settings.startup_timeout,
                execution_timeout_grace=settings.execution_timeout_grace,
            ),
            capacity=Capacity(settings.concurrency),
            token_ttl=settings.agent_token_ttl,
        )
        servicer = AgentServiceServicer(
            self.supervisor,
            heartbeat_interval=settings.heartbeat_interval,
            xcom_address=settings.xcom_address,
            logs_address=settings.logs_address,
            task_secrets=self._task_secrets,
        )
        self._server = await start_grpc_server(
            [agent_service_registration(servicer)],
            bind=settings.grpc_bind,
            codec=codec,
            extra_interceptors=grpc_server_interceptors(),
        )
        self.grpc_port = self._server.port
        self.advertise_address = settings.advertise_address or f"127.0.0.1:{self.grpc_port}"
        self.supervisor.dispatcher_address = self.advertise_address
        self.supervisor.preregistration = servicer.registration
        self.supervisor.fetch_secrets = self._task_secrets.fetch
        await self.backend.start(self.supervisor.on_exit)
        await self.supervisor.recover()
        self._start_loops()
        self._consumers.append(
            await self.bus.subscribe(
                Subscriptions.DISPATCH_REQUESTS,
                DispatchRequestsConsumer(self.supervisor).handle,
                concurrency=settings.concurrency,
            )
        )
        self._consumers.append(
            await self.bus.subscribe(
                Subscriptions.DISPATCHER_CANCELS, CancelsConsumer(self.supervisor).handle
            )
        )
        log.info(
            "dispatcher serving on port %d, agents dial %s", self.grpc_port, self.advertise_address
        )

    def _start_loops(self) -> None:
        supervisor, interval = self.supervisor, self.settings.supervision_interval
        retention = self.settings.finished_retention
        loops = [
            PeriodicLoop(
                "overdue-executions",
                lambda: process_overdue_executions.run_once(supervisor),
                interval=interval,
            ),
            PeriodicLoop(
                "outboxes", lambda: process_outboxes.run_once(supervisor), interval=interval
            ),
            PeriodicLoop(
                "finished-executions",
                lambda: process_finished_executions.run_once(supervisor, retention=retention),
                interval=max(interval, min(retention, 60.0)),
            ),
        ]
        self._loops = [asyncio.create_task(loop.run(), name=f"loop:{loop.name}") for loop in loops]

    async def stop(self) -> None:
        """Stop consuming, then stop (or leave, per settings) the executions, then serving."""
        for consumer in self._consumers:
            await consumer.cancel()
        self._consumers.clear()
        for task in self._loops:
            task.cancel()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops.clear()
        if self.supervisor is not None:
            await self.supervisor.shutdown(
                stop_executions=self.settings.stop_executions_on_shutdown
            )
        if self.backend is not None:
            await self.backend.stop()
        if self._server is not None:
            await self._server.stop(grace=1.0)
            self._server = None
        if self._task_secrets is not None:
            await self._task_secrets.close()
            self._task_secrets = None
        if self._given_bus is None and self.bus is not None:
            await self.bus.close()
            self.bus = None
        self._lock.release()
