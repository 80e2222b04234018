"""Airflow's generic list filters, read from the query string as FieldFilters for
the scheduler (proto/leoflow/scheduler/v1/filters.proto).

A list route declares its filters as data: `Ranges("start_date")` reads
`start_date_gt`, `_gte`, `_lt` and `_lte`; `Pattern("run_id_pattern", "run_id")`
an Airflow `*_pattern` (or, with prefix=True, `*_prefix_pattern`); `AnyOf("state",
"state")` a repeated parameter. Values that do not parse answer 422 naming the
parameter, as FastAPI does for Airflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from leoflow_proto.scheduler.v1 import filters_pb2
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.requests import Request

from ..convert.common import to_timestamp
from .errors import from_pydantic, validation_error

_BOUNDS = {
    "gt": filters_pb2.FILTER_OPERATOR_GT,
    "gte": filters_pb2.FILTER_OPERATOR_GTE,
    "lt": filters_pb2.FILTER_OPERATOR_LT,
    "lte": filters_pb2.FILTER_OPERATOR_LTE,
}
_DATETIME = TypeAdapter(datetime)
_FLOAT = TypeAdapter(float)
_INT = TypeAdapter(int)
# Integers a database integer column can hold; others can never match one.
_INT32 = range(-(2**31), 2**31)


@dataclass(frozen=True)
class Ranges:
    """`<name>_gt`, `_gte`, `_lt`, `_lte` on `field` (default: `name`)."""

    name: str
    field: str = ""
    kind: Literal["time", "number"] = "time"

    def params(self) -> list[str]:
        return [f"{self.name}_{bound}" for bound in _BOUNDS]


@dataclass(frozen=True)
class Pattern:
    """An Airflow `*_pattern` (or `*_prefix_pattern`) parameter on `field`."""

    param: str
    field: str
    prefix: bool = False

    def params(self) -> list[str]:
        return [self.param]


@dataclass(frozen=True)
class AnyOf:
    """A repeated parameter: the field equals one of its values (`single`: a plain
    parameter, whose last value counts, as FastAPI reads it)."""

    param: str
    field: str
    kind: Literal["text", "int"] = "text"
    single: bool = False

    def params(self) -> list[str]:
        return [self.param]


Spec = Ranges | Pattern | AnyOf


def _parse(adapter: TypeAdapter, param: str, value: str):
    try:
        return adapter.validate_python(value)
    except ValidationError as exc:
        raise from_pydantic(exc, ("query", param)) from None


def _aware(value: datetime) -> datetime:
    # Airflow reads a date without an offset as UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _ranges(request: Request, spec: Ranges) -> list[filters_pb2.FieldFilter]:
    result = []
    for bound, operator in _BOUNDS.items():
        param = f"{spec.name}_{bound}"
        raw = request.query_params.getlist(param)
        if not raw:
            continue
        value = raw[-1]
        item = filters_pb2.FieldFilter(field=spec.field or spec.name, operator=operator)
        if spec.kind == "time":
            try:
                item.time.CopyFrom(to_timestamp(_aware(_parse(_DATETIME, param, value))))
            except (ValueError, OverflowError):
                # Pydantic reads it, but a protobuf Timestamp cannot hold it.
                raise validation_error(
                    ("query", param), "Input should be a date between the years 1 and 9999", input_=value
                ) from None
        else:
            number = _parse(_FLOAT, param, value)
            item.numbers.append(number)
        result.append(item)
    return result


def _any_of(request: Request, spec: AnyOf) -> list[filters_pb2.FieldFilter]:
    raw = request.query_params.getlist(spec.param)
    if not raw:
        return []
    if spec.single:
        raw = raw[-1:]
    item = filters_pb2.FieldFilter(field=spec.field, operator=filters_pb2.FILTER_OPERATOR_IN)
    if spec.kind == "text":
        item.strings.extend(raw)
    else:
        numbers = [_parse(_INT, spec.param, value) for value in raw]
        item.numbers.extend(n for n in numbers if n in _INT32)
    return [item]


def query_filters(request: Request, specs: tuple[Spec, ...]) -> list[filters_pb2.FieldFilter]:
    """The FieldFilters the request's query string asks for, by `specs`."""
    result: list[filters_pb2.FieldFilter] = []
    for spec in specs:
        if isinstance(spec, Ranges):
            result.extend(_ranges(request, spec))
        elif isinstance(spec, AnyOf):
            result.extend(_any_of(request, spec))
        else:
            raw = request.query_params.getlist(spec.param)
            if raw:
                operator = filters_pb2.FILTER_OPERATOR_PREFIX_PATTERN if spec.prefix else filters_pb2.FILTER_OPERATOR_PATTERN
                result.append(filters_pb2.FieldFilter(field=spec.field, operator=operator, strings=[raw[-1]]))
    return result


def handled_params(specs: tuple[Spec, ...]) -> frozenset[str]:
    """Every query parameter `specs` read."""
    return frozenset(param for spec in specs for param in spec.params())


def body_ranges(body: BaseModel, specs: tuple[Ranges, ...]) -> list[filters_pb2.FieldFilter]:
    """FieldFilters of a batch body's `<name>_gt` ... `<name>_lte` fields (already validated)."""
    result = []
    for spec in specs:
        for bound, operator in _BOUNDS.items():
            value = getattr(body, f"{spec.name}_{bound}")
            if value is None:
                continue
            item = filters_pb2.FieldFilter(field=spec.field or spec.name, operator=operator)
            if spec.kind == "time":
                item.time.CopyFrom(to_timestamp(value))
            else:
                item.numbers.append(value)
            result.append(item)
    return result
