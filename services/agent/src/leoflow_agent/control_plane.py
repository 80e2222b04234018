"""The agent's gRPC clients: dispatcher (AgentService), xcom and logs.

Every call carries the per-try token as "authorization: Bearer <token>". Calls that
are safe to repeat (all of ours: reads, idempotent pushes, state reports the
dispatcher deduplicates) are retried on UNAVAILABLE, and on DEADLINE_EXCEEDED while
waiting for a channel to come up, within an explicit time budget; any other status
is final and surfaces as the AioRpcError.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import grpc
from leoflow_proto.dispatcher.v1 import agent_pb2, agent_pb2_grpc
from leoflow_proto.logs.v1 import logs_pb2_grpc
from leoflow_proto.xcom.v1 import xcom_pb2, xcom_pb2_grpc

from . import PROTOCOL_VERSION, __version__

log = logging.getLogger("leoflow.agent")

CAPABILITIES = (
    "python", "bash", "branch_python", "short_circuit", "frames_v1", "logs_stream", "execution_timeout",
    "templating", "xcom_pull", "task_callbacks", "dag_callbacks", "mapped_tasks",
)

_RETRYABLE = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})

# Fan-in argument lists can hold many 256 KiB values; gRPC's default cap is 4 MiB.
_CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.max_send_message_length", 64 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 2_000),
]


def open_channel(address: str) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(address, options=_CHANNEL_OPTIONS)


async def call_with_retry(method: Any, request: Any, *, metadata: Any, budget: float, per_try: float) -> Any:
    """`await method(request)`, retried with backoff on transient failures for `budget` s."""
    deadline = time.monotonic() + budget
    delay = 0.1
    while True:
        remaining = deadline - time.monotonic()
        try:
            return await method(request, metadata=metadata, timeout=max(0.05, min(per_try, remaining)), wait_for_ready=True)
        except grpc.aio.AioRpcError as exc:
            remaining = deadline - time.monotonic()
            if exc.code() not in _RETRYABLE or remaining <= 0:
                raise
            log.warning("%s failed (%s: %s); retrying", _method_name(method), exc.code().name, exc.details())
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 2.0)


def _method_name(method: Any) -> str:
    name = getattr(method, "_method", b"")
    return name.decode() if isinstance(name, bytes) else str(name or method)


class ControlPlane:
    """Clients for one assignment: the dispatcher first, xcom and logs once known."""

    def __init__(self, dispatcher_address: str, token: str, *, call_timeout: float = 30.0):
        self.metadata = (("authorization", f"Bearer {token}"),)
        self._call_timeout = call_timeout
        self._channels = [open_channel(dispatcher_address)]
        self.agent = agent_pb2_grpc.AgentServiceStub(self._channels[0])
        self.xcom: xcom_pb2_grpc.XComServiceStub | None = None
        self.logs: logs_pb2_grpc.LogServiceStub | None = None

    async def register(self, *, hostname: str, pid: int, budget: float) -> agent_pb2.RegisterResponse:
        """Register, waiting up to `budget` seconds for the dispatcher to be reachable."""
        request = agent_pb2.RegisterRequest(
            agent_version=__version__,
            protocol_version=PROTOCOL_VERSION,
            capabilities=CAPABILITIES,
            hostname=hostname,
            pid=pid,
        )
        return await call_with_retry(self.agent.Register, request, metadata=self.metadata, budget=budget, per_try=budget)

    def open_data_channels(self, xcom_address: str, logs_address: str) -> None:
        """Connect to the xcom and logs services the dispatcher pointed us to."""
        xcom_channel, logs_channel = open_channel(xcom_address), open_channel(logs_address)
        self._channels += [xcom_channel, logs_channel]
        self.xcom = xcom_pb2_grpc.XComServiceStub(xcom_channel)
        self.logs = logs_pb2_grpc.LogServiceStub(logs_channel)

    async def _call(self, method: Any, request: Any, budget: float | None = None) -> Any:
        budget = self._call_timeout if budget is None else budget
        return await call_with_retry(method, request, metadata=self.metadata, budget=budget, per_try=self._call_timeout)

    async def get_task_spec(self, *, budget: float | None = None) -> agent_pb2.GetTaskSpecResponse:
        return await self._call(self.agent.GetTaskSpec, agent_pb2.GetTaskSpecRequest(), budget)

    async def heartbeat(self, deadline: float) -> agent_pb2.HeartbeatResponse:
        """One heartbeat, not retried: the next one is the retry."""
        request = agent_pb2.HeartbeatRequest()
        request.sent_at.GetCurrentTime()
        return await self.agent.Heartbeat(request, metadata=self.metadata, timeout=deadline)

    async def report_state(self, request: agent_pb2.ReportStateRequest, *, budget: float) -> agent_pb2.ReportStateResponse:
        return await self._call(self.agent.ReportState, request, budget)

    async def resolve_arguments(self, request: xcom_pb2.ResolveArgumentsRequest) -> xcom_pb2.ResolveArgumentsResponse:
        assert self.xcom is not None, "open_data_channels first"
        return await self._call(self.xcom.ResolveArguments, request)

    async def push_xcom(self, request: xcom_pb2.PushXComRequest) -> xcom_pb2.PushXComResponse:
        assert self.xcom is not None, "open_data_channels first"
        return await self._call(self.xcom.PushXCom, request)

    async def get_xcom(self, request: xcom_pb2.GetXComRequest) -> xcom_pb2.GetXComResponse:
        assert self.xcom is not None, "open_data_channels first"
        return await self._call(self.xcom.GetXCom, request)

    async def list_xcoms(self, request: xcom_pb2.ListXComsRequest) -> xcom_pb2.ListXComsResponse:
        assert self.xcom is not None, "open_data_channels first"
        return await self._call(self.xcom.ListXComs, request)

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()
