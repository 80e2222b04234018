"""Backfill <-> Airflow's backfill shapes."""

from __future__ import annotations

from leoflow_proto.scheduler.v1 import backfills_pb2

from ..datamodels.backfills import BackfillPostBody, BackfillResponse
from .common import required_ts, struct, to_timestamp, ts

_REPROCESS = {
    "none": backfills_pb2.REPROCESS_BEHAVIOR_NONE,
    "failed": backfills_pb2.REPROCESS_BEHAVIOR_FAILED,
    "completed": backfills_pb2.REPROCESS_BEHAVIOR_COMPLETED,
}
_REPROCESS_NAME = {v: k for k, v in _REPROCESS.items()} | {backfills_pb2.REPROCESS_BEHAVIOR_UNSPECIFIED: "none"}


def backfill_spec(body: BackfillPostBody) -> backfills_pb2.BackfillSpec:
    spec = backfills_pb2.BackfillSpec(
        dag_id=body.dag_id,
        from_date=to_timestamp(body.from_date),
        to_date=to_timestamp(body.to_date),
        run_backwards=body.run_backwards,
        reprocess_behavior=_REPROCESS[body.reprocess_behavior],
        max_active_runs=body.max_active_runs,
        run_on_latest_version=body.run_on_latest_version,
    )
    if body.dag_run_conf is not None:
        spec.dag_run_conf.SetInParent()
        spec.dag_run_conf.update(body.dag_run_conf)
    return spec


def backfill_response(backfill: backfills_pb2.Backfill) -> BackfillResponse:
    return BackfillResponse(
        id=backfill.id,
        dag_id=backfill.dag_id,
        from_date=required_ts(backfill, "from_date"),
        to_date=required_ts(backfill, "to_date"),
        dag_run_conf=struct(backfill, "dag_run_conf") or {},
        is_paused=backfill.is_paused,
        reprocess_behavior=_REPROCESS_NAME[backfill.reprocess_behavior],
        max_active_runs=backfill.max_active_runs,
        created_at=required_ts(backfill, "created_at"),
        completed_at=ts(backfill, "completed_at"),
        updated_at=required_ts(backfill, "updated_at"),
        dag_display_name=backfill.dag_display_name or backfill.dag_id,
    )
