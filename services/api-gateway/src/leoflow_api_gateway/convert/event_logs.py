"""Event logs: EventLogService messages -> Airflow's EventLogResponse."""

from __future__ import annotations

from leoflow_proto.scheduler.v1 import metadata_pb2

from ..datamodels.event_logs import EventLogResponse
from .common import required_ts, text, ts


def event_log_response(event: metadata_pb2.EventLog) -> EventLogResponse:
    return EventLogResponse(
        event_log_id=event.event_log_id,
        when=required_ts(event, "when"),
        dag_id=text(event.dag_id),
        task_id=text(event.task_id),
        run_id=text(event.run_id),
        map_index=event.map_index if event.HasField("map_index") else None,
        try_number=event.try_number if event.HasField("try_number") else None,
        event=event.event,
        logical_date=ts(event, "logical_date"),
        owner=text(event.owner),
        extra=event.extra if event.HasField("extra") else None,
        dag_display_name=text(event.dag_display_name),
        task_display_name=text(event.task_display_name),
    )
