"""Fetches a task's variables and connections from the scheduler for its agent.

The dispatcher calls with its own service token and names the tenant from the
agent's token (never one the agent asks for), so an agent can read its own
tenant's secrets and nothing else. The answer carries secrets in clear: the
scheduler and agent channels need TLS in production (the stack's in-cluster
traffic is plaintext gRPC today).
"""

from __future__ import annotations

import time

import grpc
from leoflow_common.auth import TokenCodec
from leoflow_common.errors import Unavailable
from leoflow_common.grpc import client_channel
from leoflow_proto.dispatcher.v1 import agent_pb2
from leoflow_proto.scheduler.v1 import metadata_pb2, metadata_pb2_grpc

TENANT_METADATA_KEY = "leoflow-tenant"
_TOKEN_TTL = 3600.0
_CALL_TIMEOUT = 30.0


class TaskSecretsClient:
    """TaskSecretsService of the scheduler, called as the dispatcher."""

    def __init__(self, scheduler_address: str, codec: TokenCodec):
        self._codec = codec
        self._token = ""
        self._token_expires = 0.0
        self._channel = client_channel(scheduler_address, self._service_token) if scheduler_address else None
        self._stub = metadata_pb2_grpc.TaskSecretsServiceStub(self._channel) if self._channel else None

    def _service_token(self) -> str:
        # Renewed well before expiry, so a call never carries a token about to lapse.
        if time.monotonic() > self._token_expires:
            self._token = self._codec.mint_service("dispatcher", ttl=_TOKEN_TTL)
            self._token_expires = time.monotonic() + _TOKEN_TTL / 2
        return self._token

    async def fetch(self, tenant_id: str) -> agent_pb2.GetTaskSecretsResponse:
        """The tenant's variables and connections, as the agent receives them."""
        if self._stub is None:  # configured without a scheduler: tasks get no variables or connections
            return agent_pb2.GetTaskSecretsResponse()
        try:
            answer = await self._stub.GetTaskSecrets(
                metadata_pb2.GetTaskSecretsRequest(tenant_id=tenant_id),
                metadata=((TENANT_METADATA_KEY, tenant_id),),
                timeout=_CALL_TIMEOUT,
            )
        except grpc.aio.AioRpcError as exc:
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise Unavailable(f"the scheduler could not be reached for the task's secrets: {exc.details()}") from exc
            raise
        return agent_pb2.GetTaskSecretsResponse(variables=answer.variables, connections=answer.connections)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
