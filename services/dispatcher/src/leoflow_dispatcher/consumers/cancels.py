"""Consumer of the broadcast Subscriptions.DISPATCHER_CANCELS
(task_instance.cancel_requested.v1).

Every replica receives every cancel; the one running the try stops it, the others
find nothing to do. A cancelled try publishes nothing more, and its agent is told
to stop (should_terminate) while it is being killed.
"""

from __future__ import annotations

import logging

from leoflow_common.bus import decode_payload
from leoflow_common.errors import InvalidArgument
from leoflow_proto.events.v1 import events_pb2
from leoflow_proto.events.v1.envelope_pb2 import Envelope

from ..supervisor import Supervisor

log = logging.getLogger(__name__)


def parse_cancel_request(envelope: Envelope) -> events_pb2.CancelRequested:
    """The CancelRequested of `envelope`; InvalidArgument if unusable."""
    payload = decode_payload(envelope)
    if not isinstance(payload, events_pb2.CancelRequested):
        raise InvalidArgument(f"expected a cancel request, got {envelope.type!r}")
    ti = payload.key.task_instance
    if not (
        envelope.tenant_id
        and ti.dag_id
        and ti.run_id
        and ti.task_id
        and payload.key.try_number >= 1
    ):
        raise InvalidArgument(
            f"cancel request {envelope.id} does not name a tenant and a task-instance try"
        )
    return payload


class CancelsConsumer:
    def __init__(self, supervisor: Supervisor):
        self._supervisor = supervisor

    async def handle(self, envelope: Envelope) -> None:
        """Stop the named try if this replica runs it."""
        request = parse_cancel_request(envelope)
        stopped = await self._supervisor.cancel(envelope.tenant_id, request.key, request.reason)
        if stopped:
            log.info("cancel %s stopped %d execution(s)", envelope.id, stopped)
