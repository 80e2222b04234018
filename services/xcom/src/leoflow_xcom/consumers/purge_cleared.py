"""Subscriptions.XCOM_PURGE: when task instances are cleared (task_instances.cleared.v1),
their XComs go, so a re-run never reads a value from the try before.

Idempotent: a redelivered message deletes nothing more. A malformed message
raises, so the bus retries it and then dead-letters it for an operator.
"""

from __future__ import annotations

import logging

from leoflow_common.bus import decode_payload
from leoflow_common.errors import InvalidArgument
from leoflow_proto.events.v1 import events_pb2
from leoflow_proto.events.v1.envelope_pb2 import Envelope

from .. import metrics
from ..keys import check_id, task_instance_id
from ..store import XComSelector, XComStore

log = logging.getLogger(__name__)


class PurgeClearedXComs:
    def __init__(self, store: XComStore):
        self._store = store

    async def handle(self, envelope: Envelope) -> None:
        message = decode_payload(envelope)
        if not isinstance(message, events_pb2.TaskInstancesCleared):
            raise InvalidArgument(f"expected TaskInstancesCleared, got {envelope.type!r}")
        tenant_id = check_id(envelope.tenant_id, "envelope.tenant_id")
        deleted = 0
        for key in message.keys:
            ti = task_instance_id(tenant_id, key)
            selector = XComSelector(
                tenant_id=tenant_id,
                dag_id=ti.dag_id,
                run_id=ti.run_id,
                task_ids=frozenset({ti.task_id}),
                map_index=ti.map_index,
            )
            deleted += await self._store.delete(selector)
        metrics.PURGED.inc(deleted)
        log.info(
            "purged %d XComs of %d cleared task instances (envelope %s)",
            deleted,
            len(message.keys),
            envelope.id,
        )
