"""gRPC clients of the services the gateway translates to, and whose token they carry.

Invariant: a call made while serving a user carries THAT user's token (read from a
context variable the route boundary sets per request), so every service enforces
roles itself; the gateway's own service token is used only where no user is known
yet (checking a password at login). A call made with no token set carries none and
the service refuses it: the default is to fail closed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field

import grpc
from grpc_health.v1 import health_pb2_grpc
from leoflow_common.grpc import client_channel
from leoflow_common.telemetry import grpc_client_interceptors
from leoflow_proto.logs.v1 import logs_pb2_grpc
from leoflow_proto.scheduler.v1 import (
    identity_pb2_grpc,
    registry_pb2_grpc,
    runs_pb2_grpc,
    task_instances_pb2_grpc,
)
from leoflow_proto.xcom.v1 import xcom_pb2_grpc


class _DefaultDeadline(grpc.aio.UnaryUnaryClientInterceptor):
    """Gives every unary call a deadline, so a hung service cannot hang a request.
    Streams (log follow) are left without one: they end when the log does."""

    def __init__(self, seconds: float):
        self._seconds = seconds

    async def intercept_unary_unary(self, continuation, details, request):
        if details.timeout is None:
            details = details._replace(timeout=self._seconds)
        return await continuation(details, request)


_acting_token: ContextVar[str | None] = ContextVar("leoflow_gateway_acting_token", default=None)


def current_token() -> str | None:
    """The token the gRPC call being made carries (the TokenProvider of every channel)."""
    return _acting_token.get()


@contextmanager
def acting_as(token: str | None) -> Iterator[None]:
    """Make the calls inside the block carry `token`."""
    reset = _acting_token.set(token)
    try:
        yield
    finally:
        _acting_token.reset(reset)


@dataclass
class GatewayClients:
    """The stubs the routes use, one channel per service."""

    scheduler_channel: grpc.aio.Channel
    xcom_channel: grpc.aio.Channel
    logs_channel: grpc.aio.Channel
    # Only its health is asked (the dispatcher serves agents, not users).
    dispatcher_channel: grpc.aio.Channel | None = None
    registry: registry_pb2_grpc.DagRegistryServiceStub = field(init=False)
    runs: runs_pb2_grpc.DagRunServiceStub = field(init=False)
    task_instances: task_instances_pb2_grpc.TaskInstanceServiceStub = field(init=False)
    identity: identity_pb2_grpc.IdentityServiceStub = field(init=False)
    xcom: xcom_pb2_grpc.XComServiceStub = field(init=False)
    logs: logs_pb2_grpc.LogServiceStub = field(init=False)

    def __post_init__(self) -> None:
        self.registry = registry_pb2_grpc.DagRegistryServiceStub(self.scheduler_channel)
        self.runs = runs_pb2_grpc.DagRunServiceStub(self.scheduler_channel)
        self.task_instances = task_instances_pb2_grpc.TaskInstanceServiceStub(self.scheduler_channel)
        self.identity = identity_pb2_grpc.IdentityServiceStub(self.scheduler_channel)
        self.xcom = xcom_pb2_grpc.XComServiceStub(self.xcom_channel)
        self.logs = logs_pb2_grpc.LogServiceStub(self.logs_channel)

    @classmethod
    def connect(
        cls, *, scheduler: str, xcom: str, logs: str, dispatcher: str = "", rpc_timeout: float = 30.0
    ) -> GatewayClients:
        """Channels to the three services (connections are made lazily, on first call)."""

        def channel(target: str) -> grpc.aio.Channel:
            # Trace context first, so the span covers the whole call, deadline included.
            interceptors = [*grpc_client_interceptors(), _DefaultDeadline(rpc_timeout)]
            return client_channel(target, current_token, extra_interceptors=interceptors)

        return cls(
            scheduler_channel=channel(scheduler),
            xcom_channel=channel(xcom),
            logs_channel=channel(logs),
            dispatcher_channel=client_channel(dispatcher) if dispatcher else None,
        )

    def health_stubs(self) -> dict[str, health_pb2_grpc.HealthStub]:
        """gRPC health stubs by service name (health checks need no token)."""
        stubs = {
            "scheduler": health_pb2_grpc.HealthStub(self.scheduler_channel),
            "xcom": health_pb2_grpc.HealthStub(self.xcom_channel),
            "logs": health_pb2_grpc.HealthStub(self.logs_channel),
        }
        if self.dispatcher_channel is not None:
            stubs["dispatcher"] = health_pb2_grpc.HealthStub(self.dispatcher_channel)
        return stubs

    async def close(self) -> None:
        for channel in (self.scheduler_channel, self.xcom_channel, self.logs_channel, self.dispatcher_channel):
            if channel is not None:
                await channel.close()
