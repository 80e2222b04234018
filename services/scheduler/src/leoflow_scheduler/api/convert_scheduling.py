"""Rows -> messages of the backfill and pool services."""

from __future__ import annotations

from datetime import datetime

from leoflow_proto.scheduler.v1 import backfills_pb2, pools_pb2

REPROCESS_TO_PROTO = {
    "none": backfills_pb2.REPROCESS_BEHAVIOR_NONE,
    "failed": backfills_pb2.REPROCESS_BEHAVIOR_FAILED,
    "completed": backfills_pb2.REPROCESS_BEHAVIOR_COMPLETED,
}
REPROCESS_FROM_PROTO = {v: k for k, v in REPROCESS_TO_PROTO.items()} | {
    backfills_pb2.REPROCESS_BEHAVIOR_UNSPECIFIED: "none"
}


def _ts(message, name: str, value: datetime | None) -> None:
    if value is not None:
        getattr(message, name).FromDatetime(value)


def backfill(row) -> backfills_pb2.Backfill:
    message = backfills_pb2.Backfill(
        id=row["id"],
        dag_id=row["dag_id"],
        is_paused=row["is_paused"],
        reprocess_behavior=REPROCESS_TO_PROTO[row["reprocess_behavior"]],
        max_active_runs=row["max_active_runs"],
        dag_display_name=row["dag_display_name"] or row["dag_id"],
        run_backwards=row["run_backwards"],
        triggering_user_name=row["triggering_user_name"] or "",
    )
    for name in ("from_date", "to_date", "created_at", "completed_at", "updated_at"):
        _ts(message, name, row[name])
    message.dag_run_conf.update(row["dag_run_conf"] or {})
    return message


def pool(row) -> pools_pb2.Pool:
    unlimited = row["slots"] == -1
    running, queued, deferred = row["running_slots"], row["queued_slots"], row["deferred_slots"]
    occupied = running + queued + (deferred if row["include_deferred"] else 0)
    message = pools_pb2.Pool(
        name=row["name"],
        slots=row["slots"],
        include_deferred=row["include_deferred"],
        occupied_slots=occupied,
        running_slots=running,
        queued_slots=queued,
        scheduled_slots=row["scheduled_slots"],
        deferred_slots=deferred,
        open_slots=-1 if unlimited else row["slots"] - occupied,
    )
    if row["description"] is not None:
        message.description = row["description"]
    return message
