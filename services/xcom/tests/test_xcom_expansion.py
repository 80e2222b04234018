"""Mapped task instances' keyword arguments (expansion.py), as tables of Airflow's rules.

Each row cites the Airflow behaviour it reproduces: DictOfListsExpandInput
(`.expand(...)`, cartesian product, last argument fastest, dicts map over items) and
ListOfDictsExpandInput (`.expand_kwargs(...)`, the dict at the index)."""

from __future__ import annotations

import json

import pytest
from google.protobuf import json_format, struct_pb2
from leoflow_common.errors import InvalidArgument
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_xcom.assembly import literal_json
from leoflow_xcom.expansion import expand_instance, expand_order


def literal(value) -> dag_pb2.Value:
    return dag_pb2.Value(literal=json_format.ParseDict(value, struct_pb2.Value()))


def render(value: dag_pb2.Value, where: str) -> bytes:
    """Literals only: upstream resolution is the resolver's job, tested with the service."""
    return literal_json(value.literal)


def expand(order=None, **columns) -> dag_pb2.MappingSpec:
    spec = dag_pb2.MappingSpec(expand_keys=list(order or ()))
    for name, values in columns.items():
        spec.expand[name].CopyFrom(literal(values))
    return spec


def kwargs_at(spec: dag_pb2.MappingSpec, index: int) -> dict:
    return {k: json.loads(v) for k, v in expand_instance(spec, index, render).items()}


@pytest.mark.parametrize(
    "spec, index, expected",
    [
        # .expand(x=[1, 2, 3]): instance i gets x[i]
        (expand(x=[1, 2, 3]), 0, {"x": 1}),
        (expand(x=[1, 2, 3]), 2, {"x": 3}),
        # .expand(a=[1, 2], b=["x", "y", "z"]): product, the last argument varies fastest
        (expand(["a", "b"], a=[1, 2], b=["x", "y", "z"]), 0, {"a": 1, "b": "x"}),
        (expand(["a", "b"], a=[1, 2], b=["x", "y", "z"]), 2, {"a": 1, "b": "z"}),
        (expand(["a", "b"], a=[1, 2], b=["x", "y", "z"]), 4, {"a": 2, "b": "y"}),
        # authored order decides which one varies fastest (b written first here)
        (expand(["b", "a"], a=[1, 2], b=["x", "y", "z"]), 1, {"b": "x", "a": 2}),
        # without expand_keys (older dag.json) the names are taken sorted
        (expand(a=[1, 2], b=["x", "y", "z"]), 4, {"a": 2, "b": "y"}),
        # mapping over a dict: each element is a (key, value) pair (a literal's by sorted key)
        (expand(pair={"k2": "v2", "k1": "v1"}), 1, {"pair": ["k2", "v2"]}),
        # elements keep their JSON types
        (expand(row=[{"id": 1}, [1, 2], None]), 2, {"row": None}),
    ],
    ids=[
        "single-first",
        "single-last",
        "product-0",
        "product-2",
        "product-4",
        "authored-order",
        "sorted-fallback",
        "dict-items",
        "json-types",
    ],
)
def test_expand_picks_the_element_of_the_instance(spec, index, expected):
    assert kwargs_at(spec, index) == expected


@pytest.mark.parametrize(
    "elements, index, expected",
    [
        ([{"a": 1, "b": "x"}, {"a": 2}], 0, {"a": 1, "b": "x"}),
        ([{"a": 1, "b": "x"}, {"a": 2}], 1, {"a": 2}),
    ],
)
def test_expand_kwargs_takes_the_dict_at_the_index(elements, index, expected):
    spec = dag_pb2.MappingSpec(expand_kwargs=literal(elements))
    assert kwargs_at(spec, index) == expected


@pytest.mark.parametrize(
    "spec, index, message",
    [
        (expand(x=[1, 2]), 2, "map_index 2 is out of range: the mapping has 2 instance(s)"),
        (expand(["a", "b"], a=[1], b=[1, 2]), 2, "map_index 2 is out of range"),
        (
            expand(x="abc"),
            0,
            "mapped argument 'x' resolved to str; expand() needs a list or a dict",
        ),
        (expand(x=None), 0, "mapped argument 'x' resolved to null"),
        (expand(x=[1]), -1, "map_index of 0 or more"),
        (
            dag_pb2.MappingSpec(expand_kwargs=literal([1])),
            0,
            "expand_kwargs() expects a list[dict], not list[int]",
        ),
        (
            dag_pb2.MappingSpec(expand_kwargs=literal({"a": 1})),
            0,
            "expand_kwargs() expects a list[dict], not dict",
        ),
        (dag_pb2.MappingSpec(expand_kwargs=literal([{"a": 1}])), 1, "map_index 1 is out of range"),
        (expand(["x", "y"], x=[1]), 0, "must list each of the mapped arguments"),
    ],
    ids=[
        "past-end",
        "product-past-end",
        "string",
        "null",
        "negative",
        "kwargs-not-dict",
        "kwargs-not-list",
        "kwargs-past-end",
        "bad-keys",
    ],
)
def test_inconsistent_mappings_are_clear_errors(spec, index, message):
    with pytest.raises(InvalidArgument) as err:
        expand_instance(spec, index, render)
    assert message in err.value.message


def test_expand_order_is_the_authored_one():
    assert expand_order(expand(["z", "a"], a=[1], z=[2])) == ["z", "a"]
    assert expand_order(expand(z=[2], a=[1])) == ["a", "z"]
