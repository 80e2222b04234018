"""LogService over gRPC.

AppendLogs is for agents only, each request checked against the try in the
agent's token; ReadLogs is for users with READ (and services), within their
tenant. Roles are checked by the server's per-method policy (POLICY).
"""

from __future__ import annotations

import grpc
from leoflow_common.auth import Capability, Principal
from leoflow_common.errors import InvalidArgument, Unauthenticated
from leoflow_common.grpc import AGENT_ONLY, Access, current_principal
from leoflow_proto.logs.v1 import logs_pb2, logs_pb2_grpc

from .. import access, metrics
from ..follow import read_log
from ..keys import try_id
from ..records import check_batch_size, normalize
from ..store import LogStore

SERVICE_NAME = "leoflow.logs.v1.LogService"
POLICY = {
    "AppendLogs": AGENT_ONLY,
    "ReadLogs": Access(Capability.READ),
}


def _caller() -> Principal:
    principal = current_principal()
    if principal is None:  # the policy admits no anonymous caller; fail closed anyway
        raise Unauthenticated("Not authenticated")
    return principal


class LogServiceServicer(logs_pb2_grpc.LogServiceServicer):
    def __init__(
        self,
        store: LogStore,
        *,
        max_record_bytes: int,
        max_batch_records: int,
        read_batch_records: int,
        follow_wait_seconds: float,
        default_tenant: str,
    ):
        self._store = store
        self._max_record_bytes = max_record_bytes
        self._max_batch = max_batch_records
        self._read_batch = read_batch_records
        self._follow_wait = follow_wait_seconds
        self._default_tenant = default_tenant

    async def AppendLogs(self, request_iterator, context) -> logs_pb2.AppendLogsResponse:
        principal = _caller()
        scope = principal.task
        if scope is None:  # AGENT_ONLY admits agents only; fail closed anyway
            raise Unauthenticated("only a task's agent may append logs")
        accepted = last_sequence = 0
        async for request in request_iterator:
            target = try_id(principal.tenant_id, request.key)
            access.check_agent_try(scope, target)
            check_batch_size(len(request.records), max_records=self._max_batch)
            records, truncated = normalize(request.records, max_record_bytes=self._max_record_bytes)
            result = await self._store.append(target, records, final=request.final)
            accepted += result.accepted
            last_sequence = result.last_sequence
            metrics.RECORDS_APPENDED.inc(result.accepted)
            metrics.RECORDS_DUPLICATE.inc(len(records) - result.accepted)
            metrics.RECORDS_TRUNCATED.inc(truncated)
            if request.final:
                metrics.LOGS_CLOSED.inc()
        return logs_pb2.AppendLogsResponse(accepted=accepted, last_sequence=last_sequence)

    async def ReadLogs(self, request: logs_pb2.ReadLogsRequest, context: grpc.aio.ServicerContext):
        principal = _caller()
        tenant = access.caller_tenant(
            principal, dict(context.invocation_metadata() or ()), self._default_tenant
        )
        target = try_id(tenant, request.key)
        if request.after_sequence < 0:
            raise InvalidArgument(
                f"after_sequence must not be negative, not {request.after_sequence}",
                field="after_sequence",
            )
        if request.limit < 0:
            raise InvalidArgument(f"limit must not be negative, not {request.limit}", field="limit")
        messages = read_log(
            self._store,
            target,
            after_sequence=request.after_sequence,
            limit=request.limit,
            follow=request.follow,
            batch_size=self._read_batch,
            wait_seconds=self._follow_wait,
        )
        if request.follow:
            metrics.FOLLOWERS.inc()
        try:
            async for message in messages:
                yield logs_pb2.ReadLogsResponse(
                    records=message.records,
                    end_of_log=message.end_of_log,
                    last_sequence=message.cursor,
                )
        finally:
            if request.follow:
                metrics.FOLLOWERS.dec()
