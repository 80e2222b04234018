"""Python values recorded by the shim -> protobuf values of the DagSpec.

Invariant: only JSON data reaches dag.json. A literal is a str, a finite number, a bool,
None, or a list/dict (string keys) of those; anything else is a compile error naming
the task and argument. Lists and dicts that contain XComArgs become ValueList/ValueMap
so their order (fan-in delivery order) and shape survive; pure literals stay literals.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from airflow._shim.params import DagParam
from airflow._shim.timezone import convert_to_utc
from airflow._shim.xcom_arg import PlainXComArg, XComArg
from google.protobuf import duration_pb2, struct_pb2, timestamp_pb2
from leoflow_proto.dag.v1 import dag_pb2

# Integers beyond 2**53 do not survive a JSON number (a double).
_MAX_SAFE_INT = 2**53


class NotJsonError(ValueError):
    """A value that dag.json cannot carry; `path` says where inside the argument."""

    def __init__(self, problem: str, path: str = ""):
        super().__init__(problem)
        self.problem = problem
        self.path = path


def contains_xcom(value: Any) -> bool:
    if isinstance(value, XComArg):
        return True
    if isinstance(value, (list, tuple)):
        return any(contains_xcom(v) for v in value)
    if isinstance(value, dict):
        return any(contains_xcom(v) for v in value.values())
    return False


def check_json(value: Any, path: str = "") -> Any:
    """`value` as plain JSON data (tuples become lists), or NotJsonError."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            raise NotJsonError(f"the integer {value} is too large for JSON", path)
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotJsonError(f"{value} is not a JSON number", path)
        return value
    if isinstance(value, (list, tuple)):
        return [check_json(v, f"{path}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotJsonError(f"dict key {key!r} is not a string", path)
            out[key] = check_json(item, f"{path}[{key!r}]")
        return out
    if isinstance(value, DagParam):
        raise NotJsonError(
            f"the @dag argument '{value.name}' cannot be passed to a task yet; "
            "read it inside the task from context['params']", path)
    if isinstance(value, XComArg):
        raise NotJsonError("XComArg.map/zip/concat results are not supported by Leoflow yet", path)
    raise NotJsonError(f"a {type(value).__name__} is not a JSON value ({_hint(value)})", path)


def _hint(value: Any) -> str:
    if isinstance(value, datetime):
        return "pass value.isoformat() instead"
    if isinstance(value, (set, frozenset)):
        return "pass a sorted list instead"
    if callable(value):
        return "functions cannot be arguments; call them inside the task"
    return "pass JSON data: str, number, bool, None, list or dict"


def literal(value: Any) -> struct_pb2.Value:
    """A JSON value as google.protobuf.Value (caller has checked it with check_json)."""
    out = struct_pb2.Value()
    if value is None:
        out.null_value = struct_pb2.NULL_VALUE
    elif isinstance(value, bool):
        out.bool_value = value
    elif isinstance(value, (int, float)):
        out.number_value = value
    elif isinstance(value, str):
        out.string_value = value
    elif isinstance(value, list):
        out.list_value.values.extend(literal(v) for v in value)
    else:
        for key, item in value.items():
            out.struct_value.fields[key].CopyFrom(literal(item))
    return out


def to_value(value: Any, path: str = "") -> dag_pb2.Value:
    """A call argument as a DagSpec Value: literal, XCom reference, or list/dict of values."""
    if isinstance(value, PlainXComArg):
        return dag_pb2.Value(xcom=dag_pb2.XComRef(task_id=value.operator.task_id, key=value.key))
    if not contains_xcom(value):
        return dag_pb2.Value(literal=literal(check_json(value, path)))
    if isinstance(value, (list, tuple)):
        items = [to_value(v, f"{path}[{i}]") for i, v in enumerate(value)]
        return dag_pb2.Value(list=dag_pb2.ValueList(items=items))
    out = dag_pb2.Value(dict=dag_pb2.ValueMap())
    for key, item in value.items():
        if not isinstance(key, str):
            raise NotJsonError(f"dict key {key!r} is not a string", path)
        out.dict.items[key].CopyFrom(to_value(item, f"{path}[{key!r}]"))
    return out


def display_json(value: Any) -> Any:
    """A JSON rendering of authored settings, for display only (default_args)."""
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, datetime):
        return convert_to_utc(value).isoformat()
    if isinstance(value, (list, tuple)):
        return [display_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): display_json(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, bool, int, float)):
        return value if not isinstance(value, float) or math.isfinite(value) else str(value)
    if callable(value):
        return f"<{getattr(value, '__qualname__', type(value).__name__)}>"
    return f"<{type(value).__name__}>"


def duration(delta: timedelta) -> duration_pb2.Duration:
    out = duration_pb2.Duration()
    out.FromTimedelta(delta)
    return out


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    out = timestamp_pb2.Timestamp()
    out.FromDatetime(convert_to_utc(moment))
    return out
