"""process_outbox: publish pending outbox rows to the bus, in order.

Each row becomes an envelope whose id is the row's id, so a row published twice
(the relay crashed between publishing and marking) is a duplicate consumers
ignore. Rows are marked published only after the broker confirmed them; a
publish failure stops the pass (order is kept) and the next pass retries. A row
that can never be published (unknown type, undecodable payload) is logged and
skipped rather than blocking every row behind it.
"""

from __future__ import annotations

import logging
import time

from google.protobuf.message import DecodeError
from leoflow_common.bus import EVENT_TYPES, Bus, make_envelope
from leoflow_proto.events.v1.envelope_pb2 import Envelope

from ..domain.context import SchedulerContext
from ..metrics import OUTBOX_PENDING, OUTBOX_PUBLISHED
from ..repository import outbox

log = logging.getLogger(__name__)

PRODUCER = "scheduler"
# Seconds between counts of pending rows while the outbox keeps draining to empty.
COUNT_INTERVAL = 1.0


class OutboxRelay:
    """Publishes the outbox (see the module docstring)."""

    def __init__(self, ctx: SchedulerContext, bus: Bus, clock=time.monotonic):
        self._ctx = ctx
        self._bus = bus
        self._clock = clock
        # The pending count the gauge shows, and when it was counted.
        self._pending: int | None = None
        self._counted_at = 0.0

    async def run_once(self) -> int:
        """Publish everything pending; returns how many rows were published."""
        total = 0
        while True:
            handled, published = await self._publish_batch()
            total += published
            OUTBOX_PUBLISHED.inc(published)
            if handled < self._ctx.settings.outbox_batch_size:
                await self._count_pending()
                return total

    async def _count_pending(self) -> None:
        """Set the pending gauge. A pass that drained the outbox leaves ~nothing: while
        the last count was 0, it is counted again at most every COUNT_INTERVAL (a
        pass per task would otherwise pay a query for a gauge scraped every 15 s)."""
        now = self._clock()
        if self._pending == 0 and now - self._counted_at < COUNT_INTERVAL:
            return
        async with self._ctx.pool.acquire() as conn:
            self._pending = await outbox.count_pending(conn=conn)
        self._counted_at = now
        OUTBOX_PENDING.set(self._pending)

    async def _publish_batch(self) -> tuple[int, int]:
        """(rows handled, rows published) of one batch."""
        async with self._ctx.pool.acquire() as conn, conn.transaction():
            rows = await outbox.lock_pending(conn=conn, limit=self._ctx.settings.outbox_batch_size)
            done, published = [], 0
            try:
                for row in rows:
                    envelope = _envelope(row)
                    if envelope is not None:
                        await self._bus.publish(envelope)
                        published += 1
                    done.append(row["id"])
            finally:
                # Whatever the broker confirmed is published, even if a later row failed.
                if done:
                    await outbox.mark_published(conn=conn, ids=done)
            return len(done), published


def _envelope(row) -> Envelope | None:
    """The row's envelope; None (logged) for a row that can never be published,
    so that it cannot block the rows behind it."""
    try:
        payload = EVENT_TYPES[row["event_type"]].FromString(row["payload"])
    except (KeyError, DecodeError):
        log.error("outbox row %s (%r) cannot be published; skipped", row["id"], row["event_type"])
        return None
    return make_envelope(
        row["event_type"],
        payload,
        tenant_id=row["tenant_id"],
        producer=PRODUCER,
        envelope_id=str(row["id"]),
        trace_context=row["trace_context"],
    )
