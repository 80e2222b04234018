"""Dynamic task mapping, pure: how many instances a mapped task expands to
(Airflow's get_mapped_ti_count), and which outputs must report their length.

- `.expand(a=..., b=...)` is a cross product: the count is the product of each
  kwarg's length (Airflow's DictOfListsExpandInput);
- `.expand_kwargs(x)`: the length of x (ListOfDictsExpandInput);
- a literal list or dict has its own length; a list written in the DAG whose
  items are XComs has as many items as written; an XCom of an unmapped upstream
  has the length that upstream reported (TaskMap); an XCom of a mapped upstream
  has one item per instance that succeeded, once all of them finished.

A length that is not known yet is None ("not fully populated").
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from leoflow_proto.dag.v1 import dag_pb2

RETURN_VALUE = "return_value"
# Airflow's [core] max_map_length.
MAX_MAP_LENGTH = 1024


class MappingError(ValueError):
    """A mapping that can never expand (a literal that is not a list or dict)."""


@dataclass(frozen=True, slots=True)
class OutputRef:
    """An upstream output a mapped task expands over."""

    task_id: str
    key: str


# (task_id, key) -> length, None while unknown.
LengthOf = Callable[[OutputRef], int | None]


def is_mapped(task: dag_pb2.TaskSpec) -> bool:
    return task.HasField("mapping")


def mapping_values(mapping: dag_pb2.MappingSpec) -> Iterator[tuple[str, dag_pb2.Value]]:
    """(name, value) of each expanded input ("" for expand_kwargs)."""
    for name in sorted(mapping.expand):
        yield name, mapping.expand[name]
    if mapping.HasField("expand_kwargs"):
        yield "", mapping.expand_kwargs


def output_refs(mapping: dag_pb2.MappingSpec) -> set[OutputRef]:
    """The upstream outputs whose length the expansion needs."""
    refs = set()
    for _, value in mapping_values(mapping):
        if value.WhichOneof("kind") == "xcom":
            refs.add(OutputRef(value.xcom.task_id, value.xcom.key or RETURN_VALUE))
    return refs


def _literal_length(value) -> int:
    kind = value.WhichOneof("kind")
    if kind == "list_value":
        return len(value.list_value.values)
    if kind == "struct_value":
        return len(value.struct_value.fields)
    raise MappingError(f"cannot expand over a {kind or 'missing value'}; expected a list or a dict")


def value_length(value: dag_pb2.Value, length_of: LengthOf) -> int | None:
    """How many items one expanded input has; None while an upstream has not reported."""
    kind = value.WhichOneof("kind")
    if kind == "literal":
        return _literal_length(value.literal)
    if kind == "list":
        return len(value.list.items)
    if kind == "dict":
        return len(value.dict.items)
    if kind == "xcom":
        return length_of(OutputRef(value.xcom.task_id, value.xcom.key or RETURN_VALUE))
    raise MappingError("a mapped input has no value")


def mapped_count(task: dag_pb2.TaskSpec, length_of: LengthOf) -> int | None:
    """How many instances the mapped task expands to; None while unknown."""
    total = 1
    for _, value in mapping_values(task.mapping):
        length = value_length(value, length_of)
        if length is None:
            return None
        total *= length
    return total


def literal_count(task: dag_pb2.TaskSpec) -> int | None:
    """The count when every input is written in the DAG (known at run creation)."""

    def unknown(_: OutputRef) -> None:
        return None

    return mapped_count(task, unknown)


def reported_outputs(spec: dag_pb2.DagSpec) -> dict[str, set[str]]:
    """task_id -> XCom keys whose length downstream mappings need (those tasks'
    executions carry report_output_length)."""
    wanted: dict[str, set[str]] = {}
    for task in spec.tasks:
        if is_mapped(task):
            for ref in output_refs(task.mapping):
                wanted.setdefault(ref.task_id, set()).add(ref.key)
    return wanted
