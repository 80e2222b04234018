"""What an agent may read over real gRPC, on both backends: the whole run with a
run-wide token (ti.xcom_pull), one task's entries via ListXComs, and the keyword
arguments of a mapped task instance resolved at its map_index."""

from __future__ import annotations

import json

import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from leoflow_common.auth import ANY_TASK_OF_RUN, TaskScope, TokenCodec
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.xcom.v1 import xcom_pb2

# The secrets of conftest's `service`.
CODEC = TokenCodec(
    "test-jwt-secret-of-at-least-32-bytes!", "test-agent-secret-of-at-least-32-bytes"
)
DAG, RUN, OTHER_RUN = (
    "mapdag",
    "manual__2026-02-01T00:00:00+00:00",
    "manual__2026-02-02T00:00:00+00:00",
)


def ti(task_id: str, map_index: int = -1, run_id: str = RUN) -> keys_pb2.TaskInstanceKey:
    return keys_pb2.TaskInstanceKey(dag_id=DAG, run_id=run_id, task_id=task_id, map_index=map_index)


def agent(
    connect, tenant: str, task_id: str, upstreams=(), *, map_index: int = -1, run_id: str = RUN
):
    scope = TaskScope(
        DAG, run_id, task_id, map_index, 1, f"exec-{task_id}-{map_index}", frozenset(upstreams)
    )
    return connect(CODEC.mint_agent(tenant, scope))


def ref(task_id: str, key: str = "") -> dag_pb2.Value:
    return dag_pb2.Value(xcom=dag_pb2.XComRef(task_id=task_id, key=key))


def literal(value) -> dag_pb2.Value:
    return dag_pb2.Value(literal=json_format.ParseDict(value, struct_pb2.Value()))


async def push(
    connect,
    tenant,
    task_id: str,
    value,
    *,
    map_index: int = -1,
    key: str = "return_value",
    run_id: str = RUN,
):
    await agent(connect, tenant, task_id, map_index=map_index, run_id=run_id).PushXCom(
        xcom_pb2.PushXComRequest(
            key=ti(task_id, map_index, run_id), xcom_key=key, value_json=json.dumps(value).encode()
        )
    )


async def denied(call) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    assert err.value.code() == grpc.StatusCode.PERMISSION_DENIED, err.value.details()
    return err.value.details()


# -- the run-wide read scope ---------------------------------------------------------


async def test_a_run_wide_token_reads_any_task_of_its_run_but_no_other_run(connect, tenant):
    await push(connect, tenant, "unrelated", {"v": 1}, key="custom")
    await push(connect, tenant, "unrelated", "elsewhere", run_id=OTHER_RUN)
    reader = agent(connect, tenant, "reader", {ANY_TASK_OF_RUN})

    got = await reader.GetXCom(xcom_pb2.GetXComRequest(key=ti("unrelated"), xcom_key="custom"))
    assert json.loads(got.entry.value_json) == {"v": 1}
    await denied(
        reader.GetXCom(
            xcom_pb2.GetXComRequest(key=ti("unrelated", run_id=OTHER_RUN), xcom_key="return_value")
        )
    )
    # reads widened, pushes not: still only its own task instance
    await denied(
        reader.PushXCom(
            xcom_pb2.PushXComRequest(key=ti("unrelated"), xcom_key="x", value_json=b"1")
        )
    )


async def test_a_token_without_the_marker_keeps_its_listed_upstreams(connect, tenant):
    await push(connect, tenant, "a", 1)
    await push(connect, tenant, "b", 2)
    reader = agent(connect, tenant, "c", {"a"})
    assert (
        await reader.GetXCom(xcom_pb2.GetXComRequest(key=ti("a"), xcom_key="return_value"))
    ).entry.value_json == b"1"
    await denied(reader.GetXCom(xcom_pb2.GetXComRequest(key=ti("b"), xcom_key="return_value")))


async def test_an_agent_lists_one_readable_task_of_its_own_run(connect, tenant):
    for index in (1, 0, 2):
        await push(connect, tenant, "square", index * index, map_index=index)
    reader = agent(connect, tenant, "total", {ANY_TASK_OF_RUN})
    listed = await reader.ListXComs(
        xcom_pb2.ListXComsRequest(
            dag_id=DAG,
            run_id=RUN,
            task_id="square",
            xcom_key="return_value",
            include_values=True,
            page=keys_pb2.PageRequest(limit=1000, order_by=["map_index"]),
        )
    )
    assert [(e.key.map_index, json.loads(e.value_json)) for e in listed.entries] == [
        (0, 0),
        (1, 1),
        (2, 4),
    ]
    # never the whole run, another run, or a task outside its scope
    await denied(reader.ListXComs(xcom_pb2.ListXComsRequest(dag_id=DAG, run_id=RUN)))
    await denied(
        reader.ListXComs(xcom_pb2.ListXComsRequest(dag_id=DAG, run_id="~", task_id="square"))
    )
    await denied(
        reader.ListXComs(xcom_pb2.ListXComsRequest(dag_id=DAG, run_id=OTHER_RUN, task_id="square"))
    )
    narrow = agent(connect, tenant, "other", {"a"})
    await denied(
        narrow.ListXComs(xcom_pb2.ListXComsRequest(dag_id=DAG, run_id=RUN, task_id="square"))
    )


# -- mapped task instances -------------------------------------------------------------


async def resolve_instance(
    stub, map_index: int, mapping: dag_pb2.MappingSpec, arguments=()
) -> dict:
    response = await stub.ResolveArguments(
        xcom_pb2.ResolveArgumentsRequest(
            dag_id=DAG, run_id=RUN, arguments=list(arguments), map_index=map_index, mapping=mapping
        )
    )
    return {(a.name or a.position): json.loads(a.value_json) for a in response.arguments}


async def test_a_mapped_instance_gets_its_element_of_an_upstream_list_plus_partial_kwargs(
    connect, tenant
):
    await push(connect, tenant, "make_list", [10, 20, 30])
    mapping = dag_pb2.MappingSpec(expand={"x": ref("make_list")}, expand_keys=["x"])
    partial = [dag_pb2.Argument(name="scale", position=0, value=literal(3))]
    for index, expected in enumerate([10, 20, 30]):
        stub = agent(connect, tenant, "double", {ANY_TASK_OF_RUN}, map_index=index)
        assert await resolve_instance(stub, index, mapping, partial) == {"scale": 3, "x": expected}
    stub = agent(connect, tenant, "double", {ANY_TASK_OF_RUN}, map_index=3)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await resolve_instance(stub, 3, mapping, partial)
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "map_index 3 is out of range: the mapping has 3 instance(s)" in err.value.details()


async def test_mapping_over_a_literal_list_and_an_upstream_makes_a_product(connect, tenant):
    await push(connect, tenant, "letters", ["x", "y", "z"])
    mapping = dag_pb2.MappingSpec(
        expand={"n": literal([1, 2]), "s": ref("letters")}, expand_keys=["n", "s"]
    )
    stub = agent(connect, tenant, "combine", {ANY_TASK_OF_RUN}, map_index=4)
    assert await resolve_instance(stub, 4, mapping) == {"n": 2, "s": "y"}


async def test_mapping_over_a_mapped_upstream_uses_its_values_in_map_index_order(connect, tenant):
    for index in (2, 0, 1):
        await push(connect, tenant, "square", index * index, map_index=index)
    mapping = dag_pb2.MappingSpec(expand={"v": ref("square")}, expand_keys=["v"])
    stub = agent(connect, tenant, "plus_one", {ANY_TASK_OF_RUN}, map_index=2)
    assert await resolve_instance(stub, 2, mapping) == {"v": 4}


async def test_expand_kwargs_over_an_upstream_list_of_dicts(connect, tenant):
    await push(connect, tenant, "configs", [{"a": 1, "b": "one"}, {"a": 2, "b": "two"}])
    mapping = dag_pb2.MappingSpec(expand_kwargs=ref("configs"))
    stub = agent(connect, tenant, "run_config", {ANY_TASK_OF_RUN}, map_index=1)
    assert await resolve_instance(stub, 1, mapping) == {"a": 2, "b": "two"}


async def test_mapping_references_are_authorized_like_arguments(connect, tenant):
    await push(connect, tenant, "secret_list", [1, 2])
    mapping = dag_pb2.MappingSpec(expand={"x": ref("secret_list")}, expand_keys=["x"])
    stub = agent(connect, tenant, "mapped", {"something_else"}, map_index=0)
    details = await denied(resolve_instance(stub, 0, mapping))
    assert "secret_list" in details


async def test_a_mapped_argument_clashing_with_a_partial_one_is_refused(connect, tenant):
    mapping = dag_pb2.MappingSpec(expand={"x": literal([1])}, expand_keys=["x"])
    stub = agent(connect, tenant, "mapped", {ANY_TASK_OF_RUN}, map_index=0)
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await resolve_instance(stub, 0, mapping, [dag_pb2.Argument(name="x", value=literal(5))])
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "'x'" in err.value.details()
