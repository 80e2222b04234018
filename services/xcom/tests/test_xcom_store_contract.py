"""The XComStore contract, held by both backends (Redis and PostgreSQL)."""

from __future__ import annotations

import pytest
from leoflow_common.errors import InvalidArgument
from leoflow_common.testing import assert_eventually
from leoflow_xcom.keys import XComId
from leoflow_xcom.loops.sweep_expired import SweepExpiredXComs
from leoflow_xcom.metrics import METRICS
from leoflow_xcom.store import PostgresXComStore, XComQuery, XComSelector
from prometheus_client import REGISTRY

BACKENDS = ("redis", "postgres")
RUN = "manual__2026-01-01T00:00:00+00:00"  # ":" and "+" must survive key encoding


def xid(
    tenant: str,
    task: str = "extract",
    *,
    dag: str = "etl",
    run: str = RUN,
    map_index: int = -1,
    key: str = "return_value",
) -> XComId:
    return XComId(tenant, dag, run, task, map_index, key)


async def test_put_then_get_returns_the_bytes_verbatim(store, tenant):
    value = b'{"rows": [1, 2, 3],  "note": "caf\xc3\xa9"}'
    stored = await store.put(xid(tenant), value)
    got = await store.get(xid(tenant))
    assert got is not None
    assert got.value == value
    assert got.size_bytes == len(value) == stored.size_bytes
    assert got.timestamp == stored.timestamp


async def test_get_of_a_missing_value_is_none(store, tenant):
    assert await store.get(xid(tenant)) is None


async def test_last_write_wins(store, tenant):
    first = await store.put(xid(tenant), b"1")
    second = await store.put(xid(tenant), b'"second"')
    got = await store.get(xid(tenant))
    assert got.value == b'"second"'
    assert got.size_bytes == 8
    assert second.timestamp >= first.timestamp
    _, total = await store.query(XComQuery(tenant_id=tenant))
    assert total == 1


async def test_tenants_never_see_each_other(store, tenant):
    other = tenant + "-other"
    await store.put(xid(tenant), b"1")
    assert await store.get(xid(other)) is None
    assert await store.get_many([xid(other)]) == {}
    assert await store.query(XComQuery(tenant_id=other)) == ([], 0)
    assert await store.delete(XComSelector(other, "etl", RUN)) == 0
    assert (await store.get(xid(tenant))).value == b"1"


async def test_get_many_returns_only_what_exists(store, tenant):
    await store.put(xid(tenant, "a"), b"1")
    await store.put(xid(tenant, "b"), b"2")
    found = await store.get_many([xid(tenant, "a"), xid(tenant, "b"), xid(tenant, "missing")])
    assert {i.task_id: r.value for i, r in found.items()} == {"a": b"1", "b": b"2"}
    assert await store.get_many([]) == {}


async def _seed(store, tenant):
    ids = [
        xid(tenant, "extract"),
        xid(tenant, "extract", key="rows"),
        xid(tenant, "load", map_index=0),
        xid(tenant, "load", map_index=1),
        xid(tenant, "extract", run="scheduled__2"),
        xid(tenant, "extract", dag="other_dag"),
    ]
    for n, i in enumerate(ids):
        await store.put(i, str(n).encode())
    return ids


async def test_query_filters_each_field_and_wildcards(store, tenant):
    await _seed(store, tenant)

    async def tasks(**filters):
        records, total = await store.query(XComQuery(tenant_id=tenant, **filters))
        assert total == len(records)
        return [(r.id.dag_id, r.id.run_id, r.id.task_id, r.id.map_index, r.id.key) for r in records]

    assert len(await tasks()) == 6
    assert len(await tasks(dag_id="etl")) == 5
    assert await tasks(dag_id="other_dag") == [("other_dag", RUN, "extract", -1, "return_value")]
    assert len(await tasks(dag_id="etl", run_id=RUN)) == 4
    assert len(await tasks(run_id="scheduled__2")) == 1
    assert await tasks(dag_id="etl", run_id=RUN, task_id="load") == [
        ("etl", RUN, "load", 0, "return_value"),
        ("etl", RUN, "load", 1, "return_value"),
    ]
    assert await tasks(task_id="load", map_index=1) == [("etl", RUN, "load", 1, "return_value")]
    assert await tasks(key="rows") == [("etl", RUN, "extract", -1, "rows")]
    assert await tasks(dag_id="nope") == []


async def test_query_pages_in_natural_order_with_total(store, tenant):
    await _seed(store, tenant)
    everything, _ = await store.query(XComQuery(tenant_id=tenant, limit=100))
    natural = sorted(r.id for r in everything)
    assert [r.id for r in everything] == sorted(
        natural,
        key=lambda i: (
            i.dag_id.encode(),
            i.run_id.encode(),
            i.task_id.encode(),
            i.map_index,
            i.key.encode(),
        ),
    )
    page, total = await store.query(XComQuery(tenant_id=tenant, limit=2, offset=2))
    assert total == 6
    assert [r.id for r in page] == [r.id for r in everything[2:4]]
    beyond, total = await store.query(XComQuery(tenant_id=tenant, limit=2, offset=50))
    assert (beyond, total) == ([], 6)


async def test_query_orders_by_requested_fields(store, tenant):
    await _seed(store, tenant)
    newest_first, _ = await store.query(XComQuery(tenant_id=tenant, order_by=("-timestamp",)))
    stamps = [r.timestamp for r in newest_first]
    assert stamps == sorted(stamps, reverse=True)
    by_task_desc, _ = await store.query(
        XComQuery(tenant_id=tenant, dag_id="etl", run_id=RUN, order_by=("-task_id", "-map_index"))
    )
    assert [(r.id.task_id, r.id.map_index, r.id.key) for r in by_task_desc] == [
        ("load", 1, "return_value"),
        ("load", 0, "return_value"),
        ("extract", -1, "return_value"),
        ("extract", -1, "rows"),
    ]
    by_run, _ = await store.query(XComQuery(tenant_id=tenant, order_by=("-dag_run_id",)))
    assert by_run[0].id.run_id == "scheduled__2"
    with pytest.raises(InvalidArgument, match="cannot order XComs by 'value'"):
        await store.query(XComQuery(tenant_id=tenant, order_by=("value",)))


async def test_query_includes_values_only_when_asked(store, tenant):
    await store.put(xid(tenant), b"[1]")
    without, _ = await store.query(XComQuery(tenant_id=tenant))
    assert without[0].value is None and without[0].size_bytes == 3
    with_values, _ = await store.query(XComQuery(tenant_id=tenant, include_values=True))
    assert with_values[0].value == b"[1]"


async def test_delete_by_selector_and_idempotently(store, tenant):
    await _seed(store, tenant)
    assert (
        await store.delete(XComSelector(tenant, "etl", RUN, frozenset({"load"}), map_index=1)) == 1
    )
    assert await store.get(xid(tenant, "load", map_index=1)) is None
    assert await store.get(xid(tenant, "load", map_index=0)) is not None
    assert await store.delete(XComSelector(tenant, "etl", RUN, key="rows")) == 1
    assert await store.delete(XComSelector(tenant, "etl", RUN, key="rows")) == 0
    # Everything left in the run: extract/return_value and load[0].
    assert await store.delete(XComSelector(tenant, "etl", RUN)) == 2
    assert await store.delete(XComSelector(tenant, "etl", RUN)) == 0
    _, total = await store.query(XComQuery(tenant_id=tenant))
    assert total == 2  # the other run and the other dag are untouched


@pytest.mark.parametrize("backend", BACKENDS)
async def test_values_expire_after_their_ttl(make_store, tenant, backend):
    store = await make_store(backend, ttl_seconds=1)
    await store.put(xid(tenant, "short_lived"), b"1")
    assert await store.get(xid(tenant, "short_lived")) is not None

    async def gone():
        listed, total = await store.query(XComQuery(tenant_id=tenant))
        return await store.get(xid(tenant, "short_lived")) is None and total == 0 and listed == []

    await assert_eventually(gone, timeout=10, message="value still visible after its TTL")
    assert await store.get_many([xid(tenant, "short_lived")]) == {}


async def _is_none(store, xcom_id):
    return await store.get(xcom_id) is None


async def test_postgres_sweep_deletes_expired_rows(make_store, tenant, xcom_dsn):
    store = await make_store("postgres", ttl_seconds=1)
    assert isinstance(store, PostgresXComStore)
    await store.put(xid(tenant, "a"), b"1")
    await store.put(xid(tenant, "b"), b"2")
    await assert_eventually(lambda: _is_none(store, xid(tenant, "b")), timeout=10)

    sweep = SweepExpiredXComs(store)
    deleted_before = REGISTRY.get_sample_value("leoflow_xcom_expired_deleted_total") or 0.0
    swept = 0

    async def all_swept():
        nonlocal swept
        swept += await sweep.run_once()
        return await _rows(xcom_dsn, tenant) == 0

    await assert_eventually(all_swept, timeout=10)
    assert swept >= 2
    assert REGISTRY.get_sample_value("leoflow_xcom_expired_deleted_total") >= deleted_before + 2
    assert "leoflow_xcom_expired_deleted" not in METRICS.unobserved()


async def _rows(dsn: str, tenant: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(
            "SELECT count(*) FROM xcom.xcom_entries WHERE tenant_id = $1", tenant
        )
    finally:
        await conn.close()
