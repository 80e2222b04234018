"""The xcom service over real gRPC with real tokens, on both backends."""

from __future__ import annotations

import json

import grpc
import pytest
from google.protobuf import json_format, struct_pb2
from leoflow_common.auth import TaskScope, TokenCodec
from leoflow_common.bus import TASK_INSTANCES_CLEARED, Subscriptions, make_envelope
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.events.v1 import events_pb2
from leoflow_proto.xcom.v1 import xcom_pb2
from prometheus_client import REGISTRY

# The secrets of conftest's `service`.
JWT_SECRET = "test-jwt-secret-of-at-least-32-bytes!"
AGENT_SECRET = "test-agent-secret-of-at-least-32-bytes"
CODEC = TokenCodec(JWT_SECRET, AGENT_SECRET)
DAG, RUN = "etl", "manual__2026-01-01T00:00:00+00:00"


def ti(task_id: str, map_index: int = -1, *, run_id: str = RUN) -> keys_pb2.TaskInstanceKey:
    return keys_pb2.TaskInstanceKey(dag_id=DAG, run_id=run_id, task_id=task_id, map_index=map_index)


def agent_token(tenant: str, task_id: str, upstreams=(), *, map_index: int = -1) -> str:
    scope = TaskScope(DAG, RUN, task_id, map_index, 1, f"exec-{task_id}", frozenset(upstreams))
    return CODEC.mint_agent(tenant, scope)


def user_token(tenant: str, role: str = "User") -> str:
    return CODEC.mint_user("alice", tenant, [role])


def ref(task_id: str, key: str = "") -> dag_pb2.Value:
    return dag_pb2.Value(xcom=dag_pb2.XComRef(task_id=task_id, key=key))


def literal(value) -> dag_pb2.Value:
    return dag_pb2.Value(literal=json_format.ParseDict(value, struct_pb2.Value()))


async def code_of(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await call
    return err.value.code(), err.value.details()


# -- users: push, get, list, delete ---------------------------------------------------


async def test_user_pushes_gets_and_lists(connect, tenant):
    stub = connect(user_token(tenant))
    pushed = await stub.PushXCom(
        xcom_pb2.PushXComRequest(
            key=ti("extract"), xcom_key="return_value", value_json=b'{"rows": 3}'
        )
    )
    assert pushed.entry.size_bytes == 11 and pushed.entry.key.task_id == "extract"
    await stub.PushXCom(
        xcom_pb2.PushXComRequest(key=ti("load", 0), xcom_key="return_value", value_json=b"[1]")
    )

    got = await stub.GetXCom(xcom_pb2.GetXComRequest(key=ti("extract"), xcom_key="return_value"))
    assert json.loads(got.entry.value_json) == {"rows": 3}
    assert got.entry.timestamp.seconds > 0

    listed = await stub.ListXComs(xcom_pb2.ListXComsRequest(dag_id="~", run_id="~", task_id="~"))
    assert listed.total_entries == 2
    assert [(e.key.task_id, e.key.map_index, e.value_json) for e in listed.entries] == [
        ("extract", -1, b""),
        ("load", 0, b""),
    ]
    with_values = await stub.ListXComs(
        xcom_pb2.ListXComsRequest(dag_id=DAG, task_id="load", map_index=0, include_values=True)
    )
    assert [e.value_json for e in with_values.entries] == [b"[1]"]
    paged = await stub.ListXComs(
        xcom_pb2.ListXComsRequest(page=keys_pb2.PageRequest(limit=1, offset=1))
    )
    assert paged.total_entries == 2 and [e.key.task_id for e in paged.entries] == ["load"]


async def test_viewer_reads_but_cannot_write_and_anonymous_is_refused(connect, tenant):
    await connect(user_token(tenant)).PushXCom(
        xcom_pb2.PushXComRequest(key=ti("a"), xcom_key="k", value_json=b"1")
    )
    viewer = connect(user_token(tenant, "Viewer"))
    assert (
        await viewer.GetXCom(xcom_pb2.GetXComRequest(key=ti("a"), xcom_key="k"))
    ).entry.value_json == b"1"
    code, _ = await code_of(
        viewer.PushXCom(xcom_pb2.PushXComRequest(key=ti("a"), xcom_key="k", value_json=b"2"))
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    code, _ = await code_of(viewer.DeleteXComs(xcom_pb2.DeleteXComsRequest(dag_id=DAG, run_id=RUN)))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    code, _ = await code_of(connect().ListXComs(xcom_pb2.ListXComsRequest()))
    assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_users_only_see_their_own_tenant(connect, tenant):
    await connect(user_token(tenant)).PushXCom(
        xcom_pb2.PushXComRequest(key=ti("a"), xcom_key="k", value_json=b"1")
    )
    stranger = connect(user_token(tenant + "-other", "Admin"))
    assert (await stranger.ListXComs(xcom_pb2.ListXComsRequest())).total_entries == 0
    code, _ = await code_of(stranger.GetXCom(xcom_pb2.GetXComRequest(key=ti("a"), xcom_key="k")))
    assert code == grpc.StatusCode.NOT_FOUND


async def test_a_service_names_the_tenant_in_metadata(connect, tenant):
    await connect(user_token(tenant)).PushXCom(
        xcom_pb2.PushXComRequest(key=ti("a"), xcom_key="k", value_json=b"1")
    )
    service = connect(CODEC.mint_service("api-gateway"))
    listed = await service.ListXComs(
        xcom_pb2.ListXComsRequest(), metadata=(("leoflow-tenant", tenant),)
    )
    assert listed.total_entries == 1


async def test_delete_removes_matching_entries(connect, tenant):
    stub = connect(user_token(tenant))
    for task in ("a", "b"):
        await stub.PushXCom(
            xcom_pb2.PushXComRequest(key=ti(task), xcom_key="return_value", value_json=b"1")
        )
    deleted = await stub.DeleteXComs(
        xcom_pb2.DeleteXComsRequest(dag_id=DAG, run_id=RUN, task_ids=["a"])
    )
    assert deleted.deleted == 1
    listed = await stub.ListXComs(xcom_pb2.ListXComsRequest())
    assert [e.key.task_id for e in listed.entries] == ["b"]
    code, details = await code_of(stub.DeleteXComs(xcom_pb2.DeleteXComsRequest(dag_id=DAG)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "run_id is required" in details


# -- values: the cap and JSON -----------------------------------------------------------


async def test_a_value_over_256_kib_is_rejected_and_nothing_is_stored(connect, tenant):
    stub = connect(agent_token(tenant, "x"))
    too_big = b'"' + b"x" * 300_121 + b'"'
    code, details = await code_of(
        stub.PushXCom(
            xcom_pb2.PushXComRequest(key=ti("x"), xcom_key="return_value", value_json=too_big)
        )
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert (
        details
        == "XCom 'return_value' of task 'x' is 300,123 bytes; the limit is 262,144 bytes (256 KiB)"
    )
    listed = await connect(user_token(tenant)).ListXComs(xcom_pb2.ListXComsRequest())
    assert listed.total_entries == 0


async def test_invalid_json_is_rejected_and_nothing_is_stored(connect, tenant):
    stub = connect(user_token(tenant))
    code, details = await code_of(
        stub.PushXCom(xcom_pb2.PushXComRequest(key=ti("x"), xcom_key="k", value_json=b"{not json"))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    assert details.startswith("XCom 'k' of task 'x' is not valid JSON")
    assert (await stub.ListXComs(xcom_pb2.ListXComsRequest())).total_entries == 0


async def test_bad_keys_are_clear_errors(connect, tenant):
    stub = connect(user_token(tenant))
    code, details = await code_of(
        stub.PushXCom(xcom_pb2.PushXComRequest(key=ti(""), xcom_key="k", value_json=b"1"))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details == "key.task_id is required"
    code, details = await code_of(
        stub.PushXCom(xcom_pb2.PushXComRequest(key=ti("a", -5), xcom_key="k", value_json=b"1"))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "key.map_index" in details
    code, details = await code_of(
        stub.ListXComs(xcom_pb2.ListXComsRequest(page=keys_pb2.PageRequest(limit=5000)))
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT and "page.limit" in details


# -- agents ---------------------------------------------------------------------------------


async def test_agent_pushes_for_its_own_task_instance_only(connect, tenant):
    stub = connect(agent_token(tenant, "extract"))
    await stub.PushXCom(
        xcom_pb2.PushXComRequest(key=ti("extract"), xcom_key="return_value", value_json=b"1")
    )
    for other in (ti("load"), ti("extract", 3), ti("extract", run_id="other_run")):
        code, _ = await code_of(
            stub.PushXCom(
                xcom_pb2.PushXComRequest(key=other, xcom_key="return_value", value_json=b"1")
            )
        )
        assert code == grpc.StatusCode.PERMISSION_DENIED
    listed = await connect(user_token(tenant)).ListXComs(xcom_pb2.ListXComsRequest())
    assert [e.key.task_id for e in listed.entries] == ["extract"]


async def test_agent_cannot_list_or_delete(connect, tenant):
    stub = connect(agent_token(tenant, "extract"))
    code, _ = await code_of(stub.ListXComs(xcom_pb2.ListXComsRequest()))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    code, _ = await code_of(stub.DeleteXComs(xcom_pb2.DeleteXComsRequest(dag_id=DAG, run_id=RUN)))
    assert code == grpc.StatusCode.PERMISSION_DENIED


async def test_agent_gets_only_declared_upstreams(connect, tenant):
    for task in ("a", "b"):
        await connect(agent_token(tenant, task)).PushXCom(
            xcom_pb2.PushXComRequest(key=ti(task), xcom_key="return_value", value_json=b"1")
        )
    stub = connect(agent_token(tenant, "c", upstreams={"a"}))
    got = await stub.GetXCom(xcom_pb2.GetXComRequest(key=ti("a"), xcom_key="return_value"))
    assert got.entry.value_json == b"1"
    code, _ = await code_of(
        stub.GetXCom(xcom_pb2.GetXComRequest(key=ti("b"), xcom_key="return_value"))
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED


# -- ResolveArguments -------------------------------------------------------------------------


async def _push_as_agents(connect, tenant, values: dict[str, bytes]) -> None:
    for task, value in values.items():
        await connect(agent_token(tenant, task)).PushXCom(
            xcom_pb2.PushXComRequest(key=ti(task), xcom_key="return_value", value_json=value)
        )


async def test_fan_in_arrives_in_declaration_order_with_null_for_a_missing_upstream(
    connect, tenant
):
    await _push_as_agents(
        connect, tenant, {"shard_2": b'"two"', "shard_0": b'"zero"'}
    )  # shard_1 produced nothing
    stub = connect(agent_token(tenant, "aggregate", upstreams={"shard_0", "shard_1", "shard_2"}))
    request = xcom_pb2.ResolveArgumentsRequest(
        dag_id=DAG,
        run_id=RUN,
        arguments=[
            dag_pb2.Argument(
                name="parts",
                value=dag_pb2.Value(
                    list=dag_pb2.ValueList(items=[ref("shard_0"), ref("shard_1"), ref("shard_2")])
                ),
            ),
            dag_pb2.Argument(name="label", value=literal("total")),
        ],
    )
    response = await stub.ResolveArguments(request)
    assert [(a.name, json.loads(a.value_json)) for a in response.arguments] == [
        ("parts", ["zero", None, "two"]),
        ("label", "total"),
    ]


async def test_nested_dicts_and_lists_are_resolved(connect, tenant):
    await _push_as_agents(connect, tenant, {"extract": b'{"rows": [1, 2]}', "count": b"2"})
    stub = connect(agent_token(tenant, "report", upstreams={"extract", "count"}))
    value = dag_pb2.Value(
        dict=dag_pb2.ValueMap(
            items={
                "data": ref("extract"),
                "summary": dag_pb2.Value(
                    list=dag_pb2.ValueList(items=[ref("count"), literal({"unit": "rows"})])
                ),
            }
        )
    )
    response = await stub.ResolveArguments(
        xcom_pb2.ResolveArgumentsRequest(
            dag_id=DAG, run_id=RUN, arguments=[dag_pb2.Argument(position=0, value=value)]
        )
    )
    [argument] = response.arguments
    assert argument.position == 0
    assert json.loads(argument.value_json) == {
        "data": {"rows": [1, 2]},
        "summary": [2, {"unit": "rows"}],
    }


async def test_a_mapped_upstream_resolves_to_its_values_in_map_index_order(connect, tenant):
    for index in (2, 0, 1):
        token = agent_token(tenant, "square", map_index=index)
        await connect(token).PushXCom(
            xcom_pb2.PushXComRequest(
                key=ti("square", index),
                xcom_key="return_value",
                value_json=str(index * index).encode(),
            )
        )
    stub = connect(agent_token(tenant, "total", upstreams={"square"}))
    response = await stub.ResolveArguments(
        xcom_pb2.ResolveArgumentsRequest(
            dag_id=DAG, run_id=RUN, arguments=[dag_pb2.Argument(name="values", value=ref("square"))]
        )
    )
    assert json.loads(response.arguments[0].value_json) == [0, 1, 4]


async def test_agent_resolving_a_non_upstream_is_denied(connect, tenant):
    await _push_as_agents(connect, tenant, {"secret": b'"s"', "a": b"1"})
    stub = connect(agent_token(tenant, "c", upstreams={"a"}))
    request = xcom_pb2.ResolveArgumentsRequest(
        dag_id=DAG,
        run_id=RUN,
        arguments=[
            dag_pb2.Argument(
                name="x",
                value=dag_pb2.Value(list=dag_pb2.ValueList(items=[ref("a"), ref("secret")])),
            )
        ],
    )
    code, details = await code_of(stub.ResolveArguments(request))
    assert code == grpc.StatusCode.PERMISSION_DENIED
    assert "'secret'" in details
    other_run = xcom_pb2.ResolveArgumentsRequest(
        dag_id=DAG, run_id="another_run", arguments=[dag_pb2.Argument(name="x", value=ref("a"))]
    )
    code, _ = await code_of(stub.ResolveArguments(other_run))
    assert code == grpc.StatusCode.PERMISSION_DENIED


async def test_resolving_an_empty_value_is_a_clear_error(connect, tenant):
    stub = connect(agent_token(tenant, "c", upstreams={"a"}))
    request = xcom_pb2.ResolveArgumentsRequest(
        dag_id=DAG, run_id=RUN, arguments=[dag_pb2.Argument(name="x")]
    )
    code, details = await code_of(stub.ResolveArguments(request))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith(
        "argument 'x' has no value"
    )


# -- purge on clear ------------------------------------------------------------------------------


async def test_cleared_task_instances_lose_their_xcoms(service, connect, tenant):
    _, bus = service
    await _push_as_agents(connect, tenant, {"cleared": b"1", "kept": b"2"})
    stub = connect(user_token(tenant))
    await stub.PushXCom(
        xcom_pb2.PushXComRequest(key=ti("cleared"), xcom_key="extra", value_json=b"3")
    )
    message = events_pb2.TaskInstancesCleared(keys=[ti("cleared")])
    envelope = make_envelope(TASK_INSTANCES_CLEARED, message, tenant_id=tenant, producer="test")
    await bus.publish(envelope)

    async def purged():
        listed = await stub.ListXComs(xcom_pb2.ListXComsRequest())
        return [e.key.task_id for e in listed.entries] == ["kept"]

    await assert_eventually(purged, message="XComs of the cleared task are still there")
    assert await bus.dead_letters(Subscriptions.XCOM_PURGE) == []


# -- metrics --------------------------------------------------------------------------------------


def _sample(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_every_served_path_feeds_its_metric(service, connect, tenant):
    _, bus = service
    names = [
        ("leoflow_xcom_push_total", {}),
        ("leoflow_xcom_size_bytes_count", {}),
        ("leoflow_xcom_rejected_total", {"reason": "too_large"}),
        ("leoflow_xcom_rejected_total", {"reason": "invalid_json"}),
        ("leoflow_xcom_rejected_total", {"reason": "forbidden"}),
        ("leoflow_xcom_pull_total", {"method": "GetXCom"}),
        ("leoflow_xcom_pull_total", {"method": "ResolveArguments"}),
        ("leoflow_xcom_purged_total", {}),
    ]
    before = {(n, tuple(labels.items())): _sample(n, **labels) for n, labels in names}
    await _push_as_agents(connect, tenant, {"a": b"1"})
    agent = connect(agent_token(tenant, "b", upstreams={"a"}))
    for value in (b"[" * 300_000, b"{"):
        with pytest.raises(grpc.aio.AioRpcError):
            await agent.PushXCom(
                xcom_pb2.PushXComRequest(key=ti("b"), xcom_key="return_value", value_json=value)
            )
    with pytest.raises(grpc.aio.AioRpcError):
        await agent.PushXCom(
            xcom_pb2.PushXComRequest(key=ti("a"), xcom_key="return_value", value_json=b"1")
        )
    await agent.GetXCom(xcom_pb2.GetXComRequest(key=ti("a"), xcom_key="return_value"))
    await agent.ResolveArguments(
        xcom_pb2.ResolveArgumentsRequest(
            dag_id=DAG, run_id=RUN, arguments=[dag_pb2.Argument(name="x", value=ref("a"))]
        )
    )
    await bus.publish(
        make_envelope(
            TASK_INSTANCES_CLEARED,
            events_pb2.TaskInstancesCleared(keys=[ti("a")]),
            tenant_id=tenant,
            producer="test",
        )
    )
    await assert_eventually(lambda: _grew("leoflow_xcom_purged_total", before))
    unfed = [
        (n, labels)
        for n, labels in names
        if _sample(n, **labels) <= before[(n, tuple(labels.items()))]
    ]
    assert unfed == []


async def _grew(name: str, before) -> bool:
    return _sample(name) > before[(name, ())]
