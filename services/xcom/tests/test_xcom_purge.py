"""The purge consumer on its own: what a TaskInstancesCleared message deletes."""

from __future__ import annotations

import pytest
from leoflow_common.bus import TASK_INSTANCES_CLEARED, make_envelope
from leoflow_common.errors import InvalidArgument
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.events.v1 import events_pb2
from leoflow_xcom.consumers.purge_cleared import PurgeClearedXComs
from leoflow_xcom.keys import XComId
from leoflow_xcom.store import XComQuery


def cleared(tenant: str, *keys: keys_pb2.TaskInstanceKey):
    return make_envelope(
        TASK_INSTANCES_CLEARED,
        events_pb2.TaskInstancesCleared(keys=keys),
        tenant_id=tenant,
        producer="test",
    )


async def test_purge_deletes_every_key_of_exactly_the_cleared_instances_idempotently(store, tenant):
    kept = [
        XComId(tenant, "d", "r", "t", 0, "return_value"),
        XComId(tenant, "d", "r", "u", -1, "return_value"),
        XComId(tenant, "d", "r2", "t", 1, "return_value"),
    ]
    doomed = [
        XComId(tenant, "d", "r", "t", 1, "return_value"),
        XComId(tenant, "d", "r", "t", 1, "extra"),
    ]
    for xcom_id in kept + doomed:
        await store.put(xcom_id, b"1")
    envelope = cleared(
        tenant, keys_pb2.TaskInstanceKey(dag_id="d", run_id="r", task_id="t", map_index=1)
    )
    consumer = PurgeClearedXComs(store)
    await consumer.handle(envelope)
    await consumer.handle(envelope)  # redelivered: nothing more goes
    records, _ = await store.query(XComQuery(tenant_id=tenant))
    assert sorted(r.id for r in records) == sorted(kept)


async def test_purge_refuses_a_message_without_tenant_or_with_a_bad_key(store):
    consumer = PurgeClearedXComs(store)
    with pytest.raises(InvalidArgument, match="tenant_id is required"):
        await consumer.handle(
            cleared("", keys_pb2.TaskInstanceKey(dag_id="d", run_id="r", task_id="t", map_index=-1))
        )
    with pytest.raises(InvalidArgument, match="key.task_id is required"):
        await consumer.handle(
            cleared("t1", keys_pb2.TaskInstanceKey(dag_id="d", run_id="r", map_index=-1))
        )


async def test_an_unreachable_backend_is_unavailable_not_an_internal_error(tenant):
    import redis.asyncio as redis
    from leoflow_common.errors import Unavailable
    from leoflow_common.testing import free_port
    from leoflow_xcom.store import GuardedXComStore, RedisXComStore

    nowhere = redis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=2)
    store = GuardedXComStore(RedisXComStore(nowhere, prefix="x:", ttl_seconds=60))
    try:
        with pytest.raises(Unavailable, match="the XCom store is unavailable"):
            await store.put(XComId(tenant, "d", "r", "t", -1, "return_value"), b"1")
        with pytest.raises(Unavailable):
            await store.query(XComQuery(tenant_id=tenant))
    finally:
        await store.close()
