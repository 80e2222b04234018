"""The logs service assembled: a log store and the gRPC server.

The logs service consumes and publishes nothing, so it never opens a bus. It
accepts one anyway (`LogsApp(settings, bus=...)`) so every service is composed
the same way, and leaves it alone.
"""

from __future__ import annotations

import logging

import redis.asyncio as redis
from leoflow_common.auth import TokenCodec
from leoflow_common.bus import Bus
from leoflow_common.db import create_pool
from leoflow_common.grpc import GrpcServer, ServiceRegistration, start_grpc_server
from leoflow_common.telemetry import grpc_server_interceptors
from leoflow_proto.logs.v1 import logs_pb2_grpc

from .api.servicer import POLICY, SERVICE_NAME, LogServiceServicer
from .migrate import upgrade_database
from .settings import LogsSettings
from .store import DiskLogStore, GuardedLogStore, LogStore, PostgresLogArchive, RedisLogStore

log = logging.getLogger(__name__)


async def open_store(settings: LogsSettings) -> LogStore:
    """The configured store: files under settings.directory, or Redis streams over
    the PostgreSQL archive (migrated, reachable)."""
    if settings.backend == "disk":
        return DiskLogStore(settings.directory)
    if settings.migrate_on_start:
        await upgrade_database(settings.database_url)
    pool = await create_pool(settings.database_url)
    archive = PostgresLogArchive(pool)
    client = redis.Redis.from_url(settings.redis_url)
    try:
        await client.ping()  # fail at start, not on the first append
    except Exception:
        await client.aclose()
        await archive.close()
        raise
    return RedisLogStore(
        client,
        archive,
        prefix=settings.key_prefix,
        stream_ttl_seconds=settings.stream_ttl_seconds,
        closed_stream_ttl_seconds=settings.closed_stream_ttl_seconds,
        max_stream_entries=settings.max_stream_entries,
    )


def token_codec(settings: LogsSettings) -> TokenCodec:
    agent_secret = settings.security.agent_token_secret
    return TokenCodec(
        settings.security.jwt_secret.get_secret_value(),
        agent_secret.get_secret_value() if agent_secret else None,
    )


class LogsApp:
    def __init__(self, settings: LogsSettings, *, bus: Bus | None = None):
        self.settings = settings
        self.store: LogStore | None = None
        self.grpc_port: int | None = None
        self._bus = bus  # not used: see the module docstring
        self._server: GrpcServer | None = None

    async def start(self) -> None:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        settings = self.settings
        self.store = GuardedLogStore(await open_store(settings))
        servicer = LogServiceServicer(
            self.store,
            max_record_bytes=settings.max_record_bytes,
            max_batch_records=settings.max_batch_records,
            read_batch_records=settings.read_batch_records,
            follow_wait_seconds=settings.follow_wait_seconds,
            default_tenant=settings.security.default_tenant,
        )
        registration = ServiceRegistration(
            logs_pb2_grpc.add_LogServiceServicer_to_server, servicer, SERVICE_NAME, POLICY
        )
        self._server = await start_grpc_server(
            [registration],
            bind=settings.grpc_bind,
            codec=token_codec(settings),
            extra_interceptors=grpc_server_interceptors(),
        )
        self.grpc_port = self._server.port
        log.info("logs service serving on port %d (backend %s)", self.grpc_port, settings.backend)

    async def stop(self) -> None:
        """Stop serving (followers are cut off), then close the store. Safe after a
        failed or partial start, and twice."""
        if self._server is not None:
            await self._server.stop()
            self._server = None
        if self.store is not None:
            await self.store.close()
            self.store = None
