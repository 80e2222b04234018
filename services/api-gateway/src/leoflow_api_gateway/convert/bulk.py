"""Airflow's bulk actions <-> the metadata services' bulk messages."""

from __future__ import annotations

from leoflow_proto.scheduler.v1 import metadata_pb2

from ..datamodels.bulk import BulkActionResponse, BulkResponse

ACTION_KINDS = {
    "create": metadata_pb2.BULK_ACTION_KIND_CREATE,
    "update": metadata_pb2.BULK_ACTION_KIND_UPDATE,
    "delete": metadata_pb2.BULK_ACTION_KIND_DELETE,
}
ON_CONFLICT = {
    "fail": metadata_pb2.BULK_ON_CONFLICT_FAIL,
    "skip": metadata_pb2.BULK_ON_CONFLICT_SKIP,
    "overwrite": metadata_pb2.BULK_ON_CONFLICT_OVERWRITE,
}
_KIND_NAMES = {v: k for k, v in ACTION_KINDS.items()}


def on_conflict(action) -> int:
    """The action's action_on_existence (create) or action_on_non_existence."""
    return ON_CONFLICT[getattr(action, "action_on_existence", None) or action.action_on_non_existence]


def update_fields(sent: set[str], mask: list[str] | None, identity: str) -> list[str]:
    """The fields an update writes: those the client sent, narrowed by update_mask
    (Airflow's model_fields_set & update_mask); the identity field never changes."""
    fields = sent - {identity}
    if mask:
        fields &= set(mask)
    return sorted(fields)


def bulk_response(results) -> BulkResponse:
    """Airflow's BulkResponse: one entry per kind of action asked for (actions of
    the same kind merged, in order), null for kinds not asked for."""
    merged: dict[str, BulkActionResponse] = {}
    for result in results:
        entry = merged.setdefault(_KIND_NAMES[result.kind], BulkActionResponse())
        entry.success += list(result.success)
        entry.errors += [{"error": e.error, "status_code": e.status_code} for e in result.errors]
    return BulkResponse(**merged)
