"""The xcom service assembled: store, purge consumer, sweep loop, gRPC server.

`XComApp(settings, bus=...)` uses a bus it is given (Lite shares one in-process
bus among services) and never closes it; without one it creates and owns a bus
from settings.bus.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import redis.asyncio as redis
from leoflow_common.auth import TokenCodec
from leoflow_common.bus import Bus, Consumer, Subscriptions, create_bus
from leoflow_common.db import create_pool
from leoflow_common.grpc import GrpcServer, ServiceRegistration, start_grpc_server
from leoflow_common.runtime import PeriodicLoop
from leoflow_common.telemetry import grpc_server_interceptors
from leoflow_proto.xcom.v1 import xcom_pb2_grpc

from .api.servicer import POLICY, SERVICE_NAME, XComServiceServicer
from .consumers.purge_cleared import PurgeClearedXComs
from .loops.sweep_expired import SweepExpiredXComs
from .migrate import upgrade_database
from .resolve import ArgumentResolver
from .settings import XComSettings
from .store import GuardedXComStore, PostgresXComStore, RedisXComStore, XComStore

log = logging.getLogger(__name__)


async def open_store(settings: XComSettings) -> XComStore:
    """The configured backend, migrated (postgres) or reachable (redis)."""
    if settings.backend == "postgres":
        if settings.migrate_on_start:
            await upgrade_database(settings.database_url)
        pool = await create_pool(settings.database_url)
        return PostgresXComStore(pool, ttl_seconds=settings.ttl_seconds)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        await client.ping()  # fail at start, not on the first push
    except Exception:
        await client.aclose()
        raise
    return RedisXComStore(client, prefix=settings.key_prefix, ttl_seconds=settings.ttl_seconds)


def token_codec(settings: XComSettings) -> TokenCodec:
    agent_secret = settings.security.agent_token_secret
    return TokenCodec(
        settings.security.jwt_secret.get_secret_value(),
        agent_secret.get_secret_value() if agent_secret else None,
    )


class XComApp:
    def __init__(self, settings: XComSettings, *, bus: Bus | None = None):
        self.settings = settings
        self.store: XComStore | None = None
        self.grpc_port: int | None = None
        self._bus = bus
        self._owns_bus = bus is None
        self._consumer: Consumer | None = None
        self._server: GrpcServer | None = None
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        settings = self.settings
        backend = await open_store(settings)
        self.store = GuardedXComStore(backend)
        if self._bus is None:
            self._bus = create_bus(
                settings.bus.url,
                namespace=settings.bus.namespace,
                max_deliveries=settings.bus.max_deliveries,
            )
            await self._bus.start()
        self._consumer = await self._bus.subscribe(
            Subscriptions.XCOM_PURGE,
            PurgeClearedXComs(self.store).handle,
            concurrency=settings.purge_concurrency,
        )
        if isinstance(backend, PostgresXComStore):
            sweep = PeriodicLoop(
                "xcom.sweep_expired",
                SweepExpiredXComs(backend).run_once,
                interval=settings.sweep_interval_seconds,
            )
            self._tasks.append(asyncio.create_task(sweep.run(), name="xcom.sweep_expired"))
        resolver = ArgumentResolver(
            self.store,
            max_value_bytes=settings.max_value_bytes,
            max_total_bytes=settings.max_resolved_bytes,
        )
        servicer = XComServiceServicer(
            self.store,
            resolver,
            max_value_bytes=settings.max_value_bytes,
            default_tenant=settings.security.default_tenant,
        )
        registration = ServiceRegistration(
            xcom_pb2_grpc.add_XComServiceServicer_to_server, servicer, SERVICE_NAME, POLICY
        )
        self._server = await start_grpc_server(
            [registration],
            bind=settings.grpc_bind,
            codec=token_codec(settings),
            extra_interceptors=grpc_server_interceptors(),
        )
        self.grpc_port = self._server.port
        log.info("xcom service serving on port %d (backend %s)", self.grpc_port, settings.backend)

    async def stop(self) -> None:
        """Stop serving, then consuming, then close what this app owns. Safe to call
        after a failed or partial start, and twice."""
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self._consumer is not None:
            await self._consumer.cancel()
            self._consumer = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._owns_bus and self._bus is not None:
            await self._bus.close()
            self._bus = None
        if self.store is not None:
            await self.store.close()
            self.store = None
