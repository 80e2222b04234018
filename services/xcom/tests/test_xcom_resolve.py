"""ArgumentResolver against both stores: caps, authorization before reading."""

from __future__ import annotations

import json

import pytest
from leoflow_common.errors import InvalidArgument, PermissionDenied
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_xcom.keys import XComId
from leoflow_xcom.resolve import ArgumentResolver

RUN = "r1"


def ref(task_id: str) -> dag_pb2.Value:
    return dag_pb2.Value(xcom=dag_pb2.XComRef(task_id=task_id))


def fan_in(*task_ids: str) -> list[dag_pb2.Argument]:
    return [
        dag_pb2.Argument(
            name="xs", value=dag_pb2.Value(list=dag_pb2.ValueList(items=[ref(t) for t in task_ids]))
        )
    ]


async def resolve(resolver, tenant, arguments, may_read=lambda task_id: None):
    return await resolver.resolve(
        tenant_id=tenant, dag_id="d", run_id=RUN, arguments=arguments, may_read=may_read
    )


async def test_a_stored_value_over_the_cap_is_refused_per_upstream(store, tenant):
    await store.put(XComId(tenant, "d", RUN, "small", -1, "return_value"), b"1")
    await store.put(XComId(tenant, "d", RUN, "big", -1, "return_value"), b'"' + b"x" * 98 + b'"')
    resolver = ArgumentResolver(store, max_value_bytes=64, max_total_bytes=10_000)
    with pytest.raises(
        InvalidArgument,
        match="XCom 'return_value' of task 'big' is 100 bytes; the limit is 64 bytes",
    ):
        await resolve(resolver, tenant, fan_in("small", "big"))


async def test_the_whole_answer_has_a_cap(store, tenant):
    for task in ("a", "b", "c"):
        await store.put(XComId(tenant, "d", RUN, task, -1, "return_value"), b'"' + b"x" * 40 + b'"')
    resolver = ArgumentResolver(store, max_value_bytes=64, max_total_bytes=100)
    assert (
        json.loads((await resolve(resolver, tenant, fan_in("a", "b")))[0].value_json)
        == ["x" * 40] * 2
    )
    with pytest.raises(
        InvalidArgument,
        match="the resolved arguments of this call are 130 bytes together; the limit is 100 bytes",
    ):
        await resolve(resolver, tenant, fan_in("a", "b", "c"))


async def test_every_reference_is_authorized_before_anything_is_read(store, tenant):
    asked: list[str] = []

    def may_read(task_id: str) -> None:
        asked.append(task_id)
        if task_id == "forbidden":
            raise PermissionDenied("no")

    resolver = ArgumentResolver(store, max_value_bytes=64, max_total_bytes=1000)
    with pytest.raises(PermissionDenied):
        await resolve(resolver, tenant, fan_in("a", "forbidden", "b"), may_read)
    assert asked == ["a", "forbidden"]
