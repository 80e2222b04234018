"""FailureKind enum <-> the short strings stored in task_instances.failure_kind."""

from __future__ import annotations

from leoflow_proto.common.v1 import states_pb2

_PREFIX = "FAILURE_KIND_"


def failure_kind_to_db(value: int) -> str:
    """The stored string of a FailureKind ("" for unspecified)."""
    if value == states_pb2.FAILURE_KIND_UNSPECIFIED:
        return ""
    return states_pb2.FailureKind.Name(value).removeprefix(_PREFIX).lower()


def failure_kind_from_db(value: str | None) -> int:
    """The FailureKind of a stored string (unspecified when unknown)."""
    if not value:
        return states_pb2.FAILURE_KIND_UNSPECIFIED
    try:
        return states_pb2.FailureKind.Value(_PREFIX + value.upper())
    except ValueError:
        return states_pb2.FAILURE_KIND_UNSPECIFIED
