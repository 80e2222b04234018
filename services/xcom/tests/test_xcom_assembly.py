"""Assembly of call arguments (pure): references replaced, order kept, null for a
missing upstream, literals as JSON."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format, struct_pb2
from leoflow_common.errors import InvalidArgument
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_xcom.assembly import Ref, assemble, collect_refs


def literal(value) -> dag_pb2.Value:
    return dag_pb2.Value(literal=json_format.ParseDict(value, struct_pb2.Value()))


def ref(task_id: str, key: str = "") -> dag_pb2.Value:
    return dag_pb2.Value(xcom=dag_pb2.XComRef(task_id=task_id, key=key))


def listing(*items: dag_pb2.Value) -> dag_pb2.Value:
    return dag_pb2.Value(list=dag_pb2.ValueList(items=list(items)))


def mapping(**items: dag_pb2.Value) -> dag_pb2.Value:
    return dag_pb2.Value(dict=dag_pb2.ValueMap(items=items))


def decoded(arguments, values):
    return {(a.name, a.position): json.loads(a.value_json) for a in assemble(arguments, values)}


def test_fan_in_keeps_declaration_order_and_nulls_a_missing_upstream():
    args = [dag_pb2.Argument(name="parts", value=listing(ref("c"), ref("a"), ref("b")))]
    values = {Ref("a"): b'"A"', Ref("c"): b'{"n": 3}'}  # b produced nothing
    assert decoded(args, values) == {("parts", 0): [{"n": 3}, "A", None]}


def test_nested_dicts_and_lists_mix_literals_and_references():
    args = [
        dag_pb2.Argument(
            name="config",
            value=mapping(
                threshold=literal(3),
                ratio=literal(0.5),
                sources=listing(ref("extract", "rows"), literal("static")),
                meta=mapping(owner=literal("ops"), upstream=ref("extract")),
            ),
        )
    ]
    values = {Ref("extract", "rows"): b"[1, 2]", Ref("extract"): b"true"}
    assert decoded(args, values) == {
        ("config", 0): {
            "threshold": 3,
            "ratio": 0.5,
            "sources": [[1, 2], "static"],
            "meta": {"owner": "ops", "upstream": True},
        }
    }


def test_integral_literals_come_back_as_integers():
    [argument] = assemble([dag_pb2.Argument(name="n", value=literal(3))], {})
    assert argument.value_json == b"3"


def test_positional_and_keyword_arguments_keep_their_order_and_positions():
    args = [
        dag_pb2.Argument(position=0, value=ref("a")),
        dag_pb2.Argument(position=1, value=literal(None)),
        dag_pb2.Argument(name="flag", value=literal(True)),
    ]
    out = assemble(args, {Ref("a"): b"1"})
    assert [(a.name, a.position, a.value_json) for a in out] == [
        ("", 0, b"1"),
        ("", 1, b"null"),
        ("flag", 0, b"true"),
    ]


def test_collect_refs_is_distinct_in_first_seen_order_with_default_key():
    args = [
        dag_pb2.Argument(name="x", value=listing(ref("b"), ref("a"), ref("b"))),
        dag_pb2.Argument(name="y", value=mapping(k=ref("a", "rows"))),
    ]
    assert collect_refs(args) == [Ref("b"), Ref("a"), Ref("a", "rows")]


def test_an_empty_value_or_a_reference_without_task_is_a_clear_error():
    with pytest.raises(InvalidArgument, match="argument 'x'\\[1\\] has no value"):
        collect_refs([dag_pb2.Argument(name="x", value=listing(literal(1), dag_pb2.Value()))])
    with pytest.raises(InvalidArgument, match="xcom.task_id is required"):
        collect_refs([dag_pb2.Argument(position=2, value=ref(""))])
