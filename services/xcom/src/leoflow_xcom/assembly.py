"""Assembly of call arguments from compile-time values and upstream XComs (pure).

An Argument's Value is a tree: a JSON literal, a reference to an upstream XCom,
or a list/dict of values. Assembly replaces each reference with the upstream's
JSON, verbatim, and renders the tree as one JSON document:

- lists keep declaration order, so a fan-in list `[a(), b(), c()]` arrives in
  that order whatever order the upstreams finished in;
- an upstream that produced nothing contributes `null` in its slot (reachable
  with trigger rules such as all_done), as Airflow resolves a missing
  return_value to None;
- dict keys are rendered sorted, since a proto map keeps no order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from google.protobuf import json_format, struct_pb2
from leoflow_common.errors import InvalidArgument
from leoflow_proto.dag.v1 import dag_pb2

from .keys import RETURN_VALUE_KEY, check_id

# Largest integer a double holds exactly; integral literals up to it render as ints.
_EXACT_INTEGER_LIMIT = 2**53


@dataclass(frozen=True, slots=True, order=True)
class Ref:
    """An upstream XCom a value refers to."""

    task_id: str
    key: str = RETURN_VALUE_KEY


@dataclass(frozen=True, slots=True)
class AssembledArgument:
    name: str
    position: int
    value_json: bytes


def _label(argument: dag_pb2.Argument) -> str:
    return (
        f"argument {argument.name!r}"
        if argument.name
        else f"positional argument {argument.position}"
    )


def _ref(xcom: dag_pb2.XComRef, where: str) -> Ref:
    task_id = check_id(xcom.task_id, f"{where}: xcom.task_id")
    key = check_id(xcom.key, f"{where}: xcom.key") if xcom.key else RETURN_VALUE_KEY
    return Ref(task_id, key)


def _walk_refs(value: dag_pb2.Value, where: str) -> Iterable[Ref]:
    kind = value.WhichOneof("kind")
    if kind == "xcom":
        yield _ref(value.xcom, where)
    elif kind == "list":
        for index, item in enumerate(value.list.items):
            yield from _walk_refs(item, f"{where}[{index}]")
    elif kind == "dict":
        for key in sorted(value.dict.items):
            yield from _walk_refs(value.dict.items[key], f"{where}[{key!r}]")
    elif kind is None:
        raise InvalidArgument(
            f"{where} has no value (a literal, xcom, list or dict is required)", field="arguments"
        )


def collect_refs(arguments: Iterable[dag_pb2.Argument]) -> list[Ref]:
    """Every distinct reference in `arguments`, in first-seen order; InvalidArgument
    for an empty value or a reference without a task id."""
    refs: dict[Ref, None] = {}
    for argument in arguments:
        for ref in _walk_refs(argument.value, _label(argument)):
            refs.setdefault(ref)
    return list(refs)


def _plain(value):
    """Protobuf Values hold numbers as doubles; give integral ones back as ints."""
    if isinstance(value, float) and value.is_integer() and math.fabs(value) <= _EXACT_INTEGER_LIMIT:
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def literal_json(literal: struct_pb2.Value) -> bytes:
    plain = _plain(json_format.MessageToDict(literal))
    try:
        return json.dumps(
            plain, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        ).encode()
    except ValueError as exc:
        raise InvalidArgument(
            f"literal is not representable as JSON: {exc}", field="arguments"
        ) from exc


def _render(value: dag_pb2.Value, values: Mapping[Ref, bytes | None], where: str) -> bytes:
    kind = value.WhichOneof("kind")
    if kind == "literal":
        return literal_json(value.literal)
    if kind == "xcom":
        found = values.get(_ref(value.xcom, where))
        return b"null" if found is None else found
    if kind == "list":
        items = (_render(item, values, f"{where}[{i}]") for i, item in enumerate(value.list.items))
        return b"[" + b",".join(items) + b"]"
    if kind == "dict":
        entries = (
            json.dumps(key, ensure_ascii=False).encode()
            + b":"
            + _render(value.dict.items[key], values, f"{where}[{key!r}]")
            for key in sorted(value.dict.items)
        )
        return b"{" + b",".join(entries) + b"}"
    raise InvalidArgument(
        f"{where} has no value (a literal, xcom, list or dict is required)", field="arguments"
    )


def collect_value_refs(values: Iterable[tuple[dag_pb2.Value, str]]) -> list[Ref]:
    """Every distinct reference inside (value, where) pairs, in first-seen order."""
    refs: dict[Ref, None] = {}
    for value, where in values:
        for ref in _walk_refs(value, where):
            refs.setdefault(ref)
    return list(refs)


def render_value(value: dag_pb2.Value, values: Mapping[Ref, bytes | None], where: str) -> bytes:
    """One value rendered as JSON, references replaced by `values` (see assemble)."""
    return _render(value, values, where)


def assemble(
    arguments: Iterable[dag_pb2.Argument], values: Mapping[Ref, bytes | None]
) -> list[AssembledArgument]:
    """Each argument rendered as JSON, references replaced by `values` (None or
    absent: the upstream produced nothing), in the order given."""
    return [
        AssembledArgument(a.name, a.position, _render(a.value, values, _label(a)))
        for a in arguments
    ]
