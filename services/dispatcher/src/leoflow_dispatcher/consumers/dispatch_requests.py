"""Consumer of Subscriptions.DISPATCH_REQUESTS (task_instance.dispatch_requested.v1).

The request is acknowledged once its execution started, or failed to start and
that failure was recorded. A redelivered request finds its execution known (or
running) and starts nothing. A request that does not name a task-instance try
raises InvalidArgument: the bus retries it and then dead-letters it, where an
operator sees it.
"""

from __future__ import annotations

from leoflow_common.bus import decode_payload
from leoflow_common.errors import InvalidArgument
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution
from leoflow_proto.events.v1 import events_pb2
from leoflow_proto.events.v1.envelope_pb2 import Envelope

from ..supervisor import Supervisor


def parse_dispatch_request(envelope: Envelope) -> TaskExecution:
    """The TaskExecution a dispatch request asks for; InvalidArgument if unusable."""
    payload = decode_payload(envelope)
    if not isinstance(payload, events_pb2.DispatchRequested):
        raise InvalidArgument(f"expected a dispatch request, got {envelope.type!r}")
    execution = payload.execution
    key = execution.key
    missing = [
        name
        for name, value in (
            ("tenant_id", execution.tenant_id),
            ("key.dag_id", key.dag_id),
            ("key.run_id", key.run_id),
            ("key.task_id", key.task_id),
        )
        if not value
    ]
    if missing:
        raise InvalidArgument(f"dispatch request {envelope.id} lacks {', '.join(missing)}")
    if envelope.tenant_id and envelope.tenant_id != execution.tenant_id:
        raise InvalidArgument(f"dispatch request {envelope.id} names two tenants")
    if execution.try_number < 1:
        raise InvalidArgument(
            f"dispatch request {envelope.id} has try_number {execution.try_number} (tries start at 1)"
        )
    if key.map_index < -1 or execution.dispatch_attempt < 0:
        raise InvalidArgument(
            f"dispatch request {envelope.id} has a negative map_index or dispatch_attempt"
        )
    return execution


class DispatchRequestsConsumer:
    def __init__(self, supervisor: Supervisor):
        self._supervisor = supervisor

    async def handle(self, envelope: Envelope) -> None:
        """Start the requested execution (idempotent per execution name)."""
        await self._supervisor.dispatch(parse_dispatch_request(envelope))
