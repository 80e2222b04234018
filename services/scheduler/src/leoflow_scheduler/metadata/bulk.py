"""Airflow's bulk actions (PATCH /variables, PATCH /connections): what one action
reports. An action that fails as a whole (a conflict under action_on_existence
"fail", a missing entity under action_on_non_existence "fail") changes nothing and
reports one error with Airflow's wording and status; the other actions of the
request still run. Everything a request changes commits in one transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from leoflow_common.errors import InvalidArgument
from leoflow_proto.scheduler.v1 import metadata_pb2


class ActionKind(str, Enum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class OnConflict(str, Enum):
    FAIL = "fail"
    SKIP = "skip"
    OVERWRITE = "overwrite"


_KINDS = {
    metadata_pb2.BULK_ACTION_KIND_CREATE: ActionKind.CREATE,
    metadata_pb2.BULK_ACTION_KIND_UPDATE: ActionKind.UPDATE,
    metadata_pb2.BULK_ACTION_KIND_DELETE: ActionKind.DELETE,
}
_ON_CONFLICT = {
    metadata_pb2.BULK_ON_CONFLICT_UNSPECIFIED: OnConflict.FAIL,
    metadata_pb2.BULK_ON_CONFLICT_FAIL: OnConflict.FAIL,
    metadata_pb2.BULK_ON_CONFLICT_SKIP: OnConflict.SKIP,
    metadata_pb2.BULK_ON_CONFLICT_OVERWRITE: OnConflict.OVERWRITE,
}


def action_kind(value: int, index: int) -> ActionKind:
    try:
        return _KINDS[value]
    except KeyError:
        raise InvalidArgument(f"actions[{index}].kind must be create, update or delete", field=f"actions.{index}.kind") from None


def on_conflict(value: int, kind: ActionKind, index: int) -> OnConflict:
    policy = _ON_CONFLICT.get(value)
    if policy is None or (policy is OnConflict.OVERWRITE and kind is not ActionKind.CREATE):
        raise InvalidArgument(
            f"actions[{index}]: {'overwrite is only valid for create' if policy else 'unknown conflict policy'}",
            field=f"actions.{index}.on_conflict",
        )
    return policy


@dataclass
class ActionResult:
    """Airflow's BulkActionResponse for one action."""

    kind: ActionKind
    success: list[str] = field(default_factory=list)
    errors: list[tuple[str, int]] = field(default_factory=list)  # (message, HTTP status)

    def to_proto(self) -> metadata_pb2.BulkActionResult:
        kind = {v: k for k, v in _KINDS.items()}[self.kind]
        return metadata_pb2.BulkActionResult(
            kind=kind,
            success=self.success,
            errors=[metadata_pb2.BulkError(error=e, status_code=s) for e, s in self.errors],
        )


def python_set(names: set[str]) -> str:
    """A set of names as Airflow's messages print one ({'a', 'b'}), in a stable order."""
    return "{" + ", ".join(repr(n) for n in sorted(names)) + "}"
