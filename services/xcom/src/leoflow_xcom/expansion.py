"""Dynamic task mapping: the keyword arguments of one mapped task instance (pure).

A mapped task's MappingSpec says what it expands over; the scheduler created one
task instance per element, and each instance asks for its own element by
map_index. The rules are Airflow's (DictOfListsExpandInput / ListOfDictsExpandInput):

- `expand(a=..., b=...)`: every value resolves to a list (or a dict, whose
  (key, value) pairs are the elements; a literal dict's sorted by key, since
  dag.json's protobuf map keeps no order). Several mapped arguments combine as a
  cartesian product in the order the author wrote them, the last one varying
  fastest: with a=[1, 2] and b=["x", "y", "z"], map_index 4 is a=2, b="y".
- `expand_kwargs(value)`: the value resolves to a list whose element at map_index
  is a dict of string keys; its items are the instance's keyword arguments.

A value that is not a list or dict, an element that is not a dict, or a map_index
past the end is an InvalidArgument naming the argument: the scheduler and the
upstream disagree, and guessing would run the task with the wrong input.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from leoflow_common.errors import InvalidArgument
from leoflow_proto.dag.v1 import dag_pb2

# Renders one compile-time value (references replaced) as JSON text.
RenderValue = Callable[[dag_pb2.Value, str], bytes]


def is_mapped(mapping: dag_pb2.MappingSpec) -> bool:
    """True when the spec expands over anything."""
    return bool(mapping.expand) or mapping.HasField("expand_kwargs")


def expand_order(mapping: dag_pb2.MappingSpec) -> list[str]:
    """The mapped argument names in authored order (expand_keys), else sorted.

    expand_keys must name exactly the keys of `expand`; anything else is a broken
    spec, refused rather than guessed around."""
    names = set(mapping.expand)
    if not mapping.expand_keys:
        return sorted(names)
    order = list(mapping.expand_keys)
    if len(order) != len(set(order)) or set(order) != names:
        raise InvalidArgument(
            f"mapping.expand_keys {order} must list each of the mapped arguments {sorted(names)} once",
            field="mapping.expand_keys",
        )
    return order


def mapped_values(mapping: dag_pb2.MappingSpec) -> list[tuple[dag_pb2.Value, str]]:
    """(value, where) pairs of everything the mapping refers to, for collecting refs."""
    pairs = [(mapping.expand[name], f"mapping.expand[{name!r}]") for name in sorted(mapping.expand)]
    if mapping.HasField("expand_kwargs"):
        pairs.append((mapping.expand_kwargs, "mapping.expand_kwargs"))
    return pairs


def _elements(name: str, value: Any, *, literal: bool) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        # An upstream's dict keeps its JSON order; a literal's order did not survive
        # dag.json's protobuf map, so its items are taken sorted by key.
        items = sorted(value.items()) if literal else value.items()
        return [[key, item] for key, item in items]
    kind = "null" if value is None else type(value).__name__
    raise InvalidArgument(
        f"mapped argument {name!r} resolved to {kind}; expand() needs a list or a dict",
        field="mapping.expand",
    )


def _out_of_range(map_index: int, total: int) -> InvalidArgument:
    return InvalidArgument(
        f"map_index {map_index} is out of range: the mapping has {total} instance(s)",
        field="map_index",
    )


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def expand_instance(
    mapping: dag_pb2.MappingSpec, map_index: int, render: RenderValue
) -> dict[str, bytes]:
    """The keyword arguments (name -> JSON) of the instance at `map_index`."""
    if map_index < 0:
        raise InvalidArgument(
            f"a mapped task instance has a map_index of 0 or more, not {map_index}",
            field="map_index",
        )
    kwargs: dict[str, bytes] = {}
    if mapping.expand:
        kwargs.update(_expand_dict_of_lists(mapping, map_index, render))
    if mapping.HasField("expand_kwargs"):
        kwargs.update(_expand_list_of_dicts(mapping.expand_kwargs, map_index, render))
    return kwargs


def _expand_dict_of_lists(
    mapping: dag_pb2.MappingSpec, map_index: int, render: RenderValue
) -> dict[str, bytes]:
    order = expand_order(mapping)
    columns = {
        name: _elements(
            name,
            json.loads(render(mapping.expand[name], f"mapping.expand[{name!r}]")),
            literal=mapping.expand[name].WhichOneof("kind") == "literal",
        )
        for name in order
    }
    total = 1
    for name in order:
        total *= len(columns[name])
    if map_index >= total:
        raise _out_of_range(map_index, total)
    chosen: dict[str, bytes] = {}
    remainder = map_index
    for name in reversed(order):  # the last name varies fastest
        column = columns[name]
        chosen[name] = _dumps(column[remainder % len(column)])
        remainder //= len(column)
    return {name: chosen[name] for name in order}


def _expand_list_of_dicts(
    value: dag_pb2.Value, map_index: int, render: RenderValue
) -> dict[str, bytes]:
    resolved = json.loads(render(value, "mapping.expand_kwargs"))
    if not isinstance(resolved, list):
        kind = "null" if resolved is None else type(resolved).__name__
        raise InvalidArgument(
            f"expand_kwargs() expects a list[dict], not {kind}", field="mapping.expand_kwargs"
        )
    if map_index >= len(resolved):
        raise _out_of_range(map_index, len(resolved))
    element = resolved[map_index]
    if not isinstance(element, dict):
        kind = "null" if element is None else type(element).__name__
        raise InvalidArgument(
            f"expand_kwargs() expects a list[dict], not list[{kind}] (element {map_index})",
            field="mapping.expand_kwargs",
        )
    return {key: _dumps(item) for key, item in element.items()}
