"""AgentService: the agents' side of the dispatcher (transport only).

The caller's identity always comes from its agent token (current_principal()),
never from the request; the supervisor refuses a token that is not for an
execution this replica runs. Every call counts as a sign of life.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp
from leoflow_common.errors import FailedPrecondition
from leoflow_common.grpc import AGENT_ONLY, ServiceRegistration, current_principal
from leoflow_proto.dispatcher.v1 import agent_pb2, agent_pb2_grpc

from ..execution import Execution
from ..supervisor import Supervisor
from ..task_secrets import TaskSecretsClient

SERVICE_NAME = "leoflow.dispatcher.v1.AgentService"
# Agent-to-control-plane protocol versions this dispatcher speaks (0: an agent that
# did not say, taken as 1).
SUPPORTED_PROTOCOLS = frozenset({0, 1})


class AgentServiceServicer(agent_pb2_grpc.AgentServiceServicer):
    def __init__(
        self,
        supervisor: Supervisor,
        *,
        heartbeat_interval: float,
        xcom_address: str,
        logs_address: str,
        task_secrets: TaskSecretsClient | None = None,
    ):
        self._supervisor = supervisor
        self._heartbeat_interval = max(1, math.ceil(heartbeat_interval))
        self._xcom_address = xcom_address
        self._logs_address = logs_address
        self._task_secrets = task_secrets

    async def Register(
        self, request: agent_pb2.RegisterRequest, context
    ) -> agent_pb2.RegisterResponse:
        execution = self._supervisor.authorize(current_principal())
        if request.protocol_version not in SUPPORTED_PROTOCOLS:
            raise FailedPrecondition(
                f"agent protocol version {request.protocol_version} is not supported; this dispatcher speaks 1",
                field="protocol_version",
            )
        self._supervisor.register_agent(
            execution,
            hostname=request.hostname,
            pid=request.pid,
            agent_version=request.agent_version,
        )
        return self.registration(execution)

    def registration(self, execution: Execution) -> agent_pb2.RegisterResponse:
        """What Register answers for `execution`; a warm hand-over carries it to the
        agent ahead (Supervisor.preregistration), so that agent never has to ask."""
        return agent_pb2.RegisterResponse(
            execution_name=execution.name,
            server_time=_now(),
            heartbeat_interval_seconds=self._heartbeat_interval,
            xcom_address=self._xcom_address,
            logs_address=self._logs_address,
        )

    async def GetTaskSpec(
        self, request: agent_pb2.GetTaskSpecRequest, context
    ) -> agent_pb2.GetTaskSpecResponse:
        execution = self._supervisor.authorize(current_principal())
        return agent_pb2.GetTaskSpecResponse(execution=execution.spec)

    async def Heartbeat(
        self, request: agent_pb2.HeartbeatRequest, context
    ) -> agent_pb2.HeartbeatResponse:
        execution = self._supervisor.authorize(current_principal())
        return agent_pb2.HeartbeatResponse(
            should_terminate=self._supervisor.should_terminate(execution), server_time=_now()
        )

    async def ReportState(
        self, request: agent_pb2.ReportStateRequest, context
    ) -> agent_pb2.ReportStateResponse:
        execution = self._supervisor.authorize(current_principal())
        acknowledged = await self._supervisor.report(execution, request)
        return agent_pb2.ReportStateResponse(
            acknowledged=acknowledged, should_terminate=self._supervisor.should_terminate(execution)
        )

    async def GetTaskSecrets(
        self, request: agent_pb2.GetTaskSecretsRequest, context
    ) -> agent_pb2.GetTaskSecretsResponse:
        principal = current_principal()
        execution = self._supervisor.authorize(principal)  # an execution this replica runs
        if self._task_secrets is None:
            return agent_pb2.GetTaskSecretsResponse()
        prefetched, execution.secrets = execution.secrets, None
        if prefetched is not None and prefetched.tenant_id == principal.tenant_id:
            answer = await prefetched.take()
            if answer is not None:
                return answer
        # The tenant comes from the agent's signed token, never from the request.
        return await self._task_secrets.fetch(principal.tenant_id)


def agent_service_registration(servicer: AgentServiceServicer) -> ServiceRegistration:
    """The servicer with its access policy: agents only, every method."""
    return ServiceRegistration(
        add_to_server=agent_pb2_grpc.add_AgentServiceServicer_to_server,
        servicer=servicer,
        full_name=SERVICE_NAME,
        policy={
            method: AGENT_ONLY
            for method in ("Register", "GetTaskSpec", "Heartbeat", "ReportState", "GetTaskSecrets")
        },
    )


def _now() -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC))
    return stamp
