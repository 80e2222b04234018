"""Housekeeping forgets published outbox rows and applied inbox ids past the
retention and keeps what is pending; the relay never lets one bad row block the rest."""

import asyncpg
from leoflow_common.bus import DISPATCH_REQUESTED
from leoflow_common.testing import assert_eventually
from leoflow_proto.events.v1 import events_pb2
from leoflow_scheduler.loops.housekeeping import Housekeeping
from leoflow_scheduler.loops.outbox_relay import OutboxRelay

LOCK_KEY = 0x7E58


async def test_old_rows_are_pruned_pending_ones_kept(scheduler_database, make_scheduler):
    # Hold the leader lock ourselves: no relay runs, so nothing moves but us.
    blocker = await asyncpg.connect(scheduler_database)
    try:
        assert await blocker.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
        scheduler = await make_scheduler(
            lead=False, listen=False, leader_lock_key=LOCK_KEY, outbox_retention_seconds=60
        )
        await blocker.execute(
            """
            INSERT INTO outbox (id, tenant_id, event_type, payload, published_at) VALUES
              (gen_random_uuid(), 't', 'old', '', now() - interval '2 minutes'),
              (gen_random_uuid(), 't', 'recent', '', now()),
              (gen_random_uuid(), 't', 'pending', '', NULL);
            INSERT INTO inbox (consumer, envelope_id, tenant_id, processed_at) VALUES
              ('c', 'old', 't', now() - interval '2 minutes'), ('c', 'recent', 't', now());
            """
        )
        assert await Housekeeping(scheduler.app.ctx).run_once() == 2
        remaining = {r["event_type"] for r in await blocker.fetch("SELECT event_type FROM outbox")}
        assert remaining == {"recent", "pending"}
        assert [r["envelope_id"] for r in await blocker.fetch("SELECT envelope_id FROM inbox")] == [
            "recent"
        ]
    finally:
        await blocker.close()


async def test_an_unpublishable_outbox_row_does_not_block_the_rest(
    scheduler_database, make_scheduler, bus
):
    blocker = await asyncpg.connect(scheduler_database)
    try:
        assert await blocker.fetchval("SELECT pg_try_advisory_lock($1)", LOCK_KEY)
        scheduler = await make_scheduler(lead=False, listen=True, leader_lock_key=LOCK_KEY)
        event = events_pb2.DispatchRequested()
        event.execution.key.task_id = "behind"
        await blocker.execute(
            "INSERT INTO outbox (id, tenant_id, event_type, payload) VALUES "
            "(gen_random_uuid(), 't', 'no.such.type.v1', ''), (gen_random_uuid(), 't', $1, $2)",
            DISPATCH_REQUESTED,
            event.SerializeToString(),
        )
        assert await OutboxRelay(scheduler.app.ctx, bus).run_once() == 1
        await assert_eventually(lambda: _dispatched(scheduler, "behind"))
        assert await blocker.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
    finally:
        await blocker.close()


async def _dispatched(scheduler, task_id):
    return any(d.execution.key.task_id == task_id for d in scheduler.dispatches)
