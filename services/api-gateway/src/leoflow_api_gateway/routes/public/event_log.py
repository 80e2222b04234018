"""/api/v2/eventLogs: list and get (Airflow's routes/public/event_logs.py) over the
scheduler's EventLogService. Every change in Leoflow writes one row, in the same
transaction as the change; extras are masked before they are stored."""

from __future__ import annotations

from datetime import datetime

from leoflow_common.auth import Capability
from leoflow_proto.scheduler.v1 import metadata_pb2, metadata_pb2_grpc
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.common import to_timestamp
from ...convert.event_logs import event_log_response
from ...datamodels.event_logs import EventLogCollectionResponse
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError, or_404, validation_error
from ...http.params import parse_query, path_int
from ...http.responses import json_response
from ..common import PagedQuery, page_of
from .metadata_common import check_order_by

INT32 = 2**31 - 1
_TEXT_FILTERS = ("dag_id", "task_id", "run_id", "owner", "event")


def _stub(request: Request) -> metadata_pb2_grpc.EventLogServiceStub:
    return metadata_pb2_grpc.EventLogServiceStub(gateway(request).clients.scheduler_channel)


class GetEventLogsQuery(PagedQuery):
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    map_index: int | None = Field(default=None, ge=-INT32 - 1, le=INT32)
    try_number: int | None = Field(default=None, ge=-INT32 - 1, le=INT32)
    owner: str | None = None
    event: str | None = None
    excluded_events: list[str] | None = None
    included_events: list[str] | None = None
    before: datetime | None = None
    after: datetime | None = None
    dag_id_pattern: str | None = None
    task_id_pattern: str | None = None
    run_id_pattern: str | None = None
    owner_pattern: str | None = None
    event_pattern: str | None = None
    dag_id_prefix_pattern: str | None = None
    task_id_prefix_pattern: str | None = None
    run_id_prefix_pattern: str | None = None
    owner_prefix_pattern: str | None = None
    event_prefix_pattern: str | None = None


@endpoint(Capability.READ)
async def get_event_logs(request: Request) -> Response:
    query = parse_query(request, GetEventLogsQuery)
    check_order_by(query.order_by)
    pg = page_of(request, query)
    list_request = metadata_pb2.ListEventLogsRequest(
        page=pg.request(),
        excluded_events=query.excluded_events or [],
        included_events=query.included_events or [],
    )
    for name in _TEXT_FILTERS:
        for suffix in ("", "_pattern", "_prefix_pattern"):
            value = getattr(query, name + suffix)
            if value:
                setattr(list_request, name + suffix, value)
    for name in ("map_index", "try_number"):
        if getattr(query, name) is not None:
            setattr(list_request, name, getattr(query, name))
    for name in ("before", "after"):
        if getattr(query, name) is not None:
            try:
                getattr(list_request, name).CopyFrom(to_timestamp(getattr(query, name)))
            except (ValueError, OverflowError):  # outside what a timestamp can hold
                raise validation_error(("query", name), "Input should be a valid datetime", input_=str(getattr(query, name))) from None
    answer = await _stub(request).ListEventLogs(list_request)
    events = [event_log_response(e) for e in pg.take(list(answer.event_logs))]
    return json_response(EventLogCollectionResponse(event_logs=events, total_entries=answer.total_entries))


@endpoint(Capability.READ)
async def get_event_log(request: Request) -> Response:
    event_log_id = path_int(request, "event_log_id")
    not_found = HTTPError(404, f"The Event Log with id: `{event_log_id}` not found")
    if not 0 < event_log_id < 2**63:
        raise not_found
    answer = await or_404(_stub(request).GetEventLog(metadata_pb2.GetEventLogRequest(event_log_id=event_log_id)), not_found)
    return json_response(event_log_response(answer.event_log))


routes = [
    Route("/eventLogs", get_event_logs, methods=["GET"]),
    Route("/eventLogs/{event_log_id}", get_event_log, methods=["GET"]),
]
