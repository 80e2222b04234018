"""Agent token scope: one try, and the upstream XComs it may read."""

from __future__ import annotations

import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.struct_pb2 import Value as JsonValue
from leoflow_common.auth import ANY_TASK_OF_RUN, TokenCodec
from leoflow_common.errors import PermissionDenied
from leoflow_dispatcher.scope import (
    agent_token_ttl,
    mint_agent_token,
    referenced_task_ids,
    task_scope,
)
from leoflow_proto.common.v1.keys_pb2 import TaskInstanceKey
from leoflow_proto.dag.v1.dag_pb2 import (
    Argument,
    MappingSpec,
    TaskSpec,
    Value,
    ValueList,
    ValueMap,
    XComRef,
)
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution


def ref(task_id: str, key: str = "return_value") -> Value:
    return Value(xcom=XComRef(task_id=task_id, key=key))


def literal(number: float) -> Value:
    return Value(literal=JsonValue(number_value=number))


def task_with_references() -> TaskSpec:
    fan_in = Value(list=ValueList(items=[ref("trial_1"), ref("trial_2"), literal(3)]))
    nested = Value(
        dict=ValueMap(
            items={"best": ref("select"), "deep": Value(list=ValueList(items=[ref("deep_one")]))}
        )
    )
    task = TaskSpec(
        task_id="report",
        arguments=[
            Argument(position=0, value=fan_in),
            Argument(name="summary", value=nested),
            Argument(name="threshold", value=literal(0.5)),
        ],
    )
    task.mapping.CopyFrom(
        MappingSpec(expand={"region": ref("regions")}, expand_kwargs=ref("kwargs_source"))
    )
    return task


def test_referenced_task_ids_finds_every_xcom_ref_at_any_depth():
    assert referenced_task_ids(task_with_references()) == {
        "trial_1",
        "trial_2",
        "select",
        "deep_one",
        "regions",
        "kwargs_source",
    }


def test_referenced_task_ids_of_a_task_without_references_is_empty():
    assert (
        referenced_task_ids(TaskSpec(task_id="t", arguments=[Argument(name="n", value=literal(1))]))
        == set()
    )


def execution() -> TaskExecution:
    return TaskExecution(
        tenant_id="acme",
        key=TaskInstanceKey(dag_id="hparam", run_id="manual__1", task_id="report", map_index=2),
        try_number=3,
        task=task_with_references(),
        upstream_task_ids=["select", "prepare"],
    )


def test_task_scope_is_the_try_and_its_upstreams():
    scope = task_scope(execution(), "hparam-report-m2-t3-abc")
    assert (scope.dag_id, scope.run_id, scope.task_id, scope.map_index, scope.try_number) == (
        "hparam",
        "manual__1",
        "report",
        2,
        3,
    )
    assert scope.execution_name == "hparam-report-m2-t3-abc"
    assert scope.upstream_task_ids == {
        "trial_1",
        "trial_2",
        "select",
        "deep_one",
        "regions",
        "kwargs_source",
        "prepare",
        ANY_TASK_OF_RUN,
    }


def test_minted_token_verifies_to_exactly_that_scope():
    codec = TokenCodec("j" * 32, "a" * 32)
    token = mint_agent_token(codec, execution(), "hparam-report-m2-t3-abc", ttl=60)
    principal = codec.verify(token)
    assert principal.kind == "agent" and principal.tenant_id == "acme"
    assert principal.task == task_scope(execution(), "hparam-report-m2-t3-abc")
    # Signed with the agent secret: another agent secret does not verify it.
    with pytest.raises(PermissionDenied):
        TokenCodec("j" * 32, "b" * 32).verify(token)


def test_token_ttl_outlasts_the_execution_timeout():
    spec = execution()
    assert agent_token_ttl(spec, minimum=3600, startup=120, grace=5) == 3600
    spec.task.execution_timeout.CopyFrom(Duration(seconds=86400 * 2))
    assert agent_token_ttl(spec, minimum=3600, startup=120, grace=5) == 86400 * 2 + 125
