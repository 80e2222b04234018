"""FieldFilter messages -> the repositories' FieldConditions, checked against the
fields a list call filters on (INVALID_ARGUMENT naming the field otherwise)."""

from __future__ import annotations

from datetime import UTC

from leoflow_common.errors import InvalidArgument
from leoflow_proto.scheduler.v1 import filters_pb2

from ..repository._field_filters import Column, FieldCondition, UnknownFilter, check

_OPERATORS = {
    filters_pb2.FILTER_OPERATOR_GT: "gt",
    filters_pb2.FILTER_OPERATOR_GTE: "gte",
    filters_pb2.FILTER_OPERATOR_LT: "lt",
    filters_pb2.FILTER_OPERATOR_LTE: "lte",
    filters_pb2.FILTER_OPERATOR_IN: "in",
    filters_pb2.FILTER_OPERATOR_PATTERN: "pattern",
    filters_pb2.FILTER_OPERATOR_PREFIX_PATTERN: "prefix_pattern",
    filters_pb2.FILTER_OPERATOR_CONTAINS: "contains",
}


def field_conditions(filters, columns: dict[str, Column]) -> list[FieldCondition]:
    """The conditions of repeated FieldFilter `filters`, valid for `columns`."""
    conditions = []
    for index, message in enumerate(filters):
        where = f"filters[{index}]"
        operator = _OPERATORS.get(message.operator)
        if operator is None:
            raise InvalidArgument(f"{where}.operator is required", field=f"{where}.operator")
        time = None
        if message.HasField("time"):
            try:
                time = message.time.ToDatetime(tzinfo=UTC)
            except (ValueError, OverflowError) as exc:
                raise InvalidArgument(
                    f"{where}.time is not a valid timestamp", field=f"{where}.time"
                ) from exc
        conditions.append(
            FieldCondition(
                field=message.field,
                operator=operator,
                strings=tuple(message.strings),
                numbers=tuple(message.numbers),
                time=time,
            )
        )
    try:
        check(conditions, columns)
    except UnknownFilter as exc:
        raise InvalidArgument(str(exc), field=exc.field) from exc
    return conditions
