"""GET /ui/calendar/{dag_id}: the DAG page's Calendar tab (Airflow's
routes/ui/calendar.py): its runs per day or hour of their logical date, and the
runs its schedule plans for the rest of the year (convert/calendar.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from leoflow_common.auth import Capability
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import models_pb2, runs_pb2
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.calendar import DateRange, historical_cells, last_data_interval, planned_cells
from ...convert.common import to_timestamp
from ...datamodels.ui.calendar import CalendarTimeRangeCollectionResponse
from ...http.endpoint import endpoint, gateway
from ...http.params import parse_query, reject_unsupported
from ...http.responses import json_response
from ..dag_specs import spec_of
from ..public.dags import get_dag_or_404

_RUN_PAGE = 1000
_MICROSECOND = timedelta(microseconds=1)
# Leoflow runs have no partitions (Airflow 3.2's partitioned timetables).
_UNSUPPORTED = frozenset({"partition_date_gte", "partition_date_gt", "partition_date_lte", "partition_date_lt"})


class CalendarQuery(BaseModel):
    granularity: Literal["hourly", "daily"] = "daily"
    logical_date_gte: datetime | None = None
    logical_date_gt: datetime | None = None
    logical_date_lte: datetime | None = None
    logical_date_lt: datetime | None = None

    def range(self) -> DateRange:
        """One closed range (a strict bound is the closed one a microsecond inside)."""
        lower = [_utc(v) for v in (self.logical_date_gte,) if v] + [_utc(v) + _MICROSECOND for v in (self.logical_date_gt,) if v]
        upper = [_utc(v) for v in (self.logical_date_lte,) if v] + [_utc(v) - _MICROSECOND for v in (self.logical_date_lt,) if v]
        return DateRange(gte=max(lower, default=None), lte=min(upper, default=None))


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def _runs(request: Request, dag_id: str, asked: DateRange) -> list[models_pb2.DagRun]:
    """Every run of the DAG with a logical date in `asked`, oldest first."""
    runs = gateway(request).clients.runs
    found: list[models_pb2.DagRun] = []
    while True:
        list_request = runs_pb2.ListDagRunsRequest(
            dag_id=dag_id, page=keys_pb2.PageRequest(limit=_RUN_PAGE, offset=len(found), order_by=["logical_date", "id"])
        )
        if asked.gte is not None:
            list_request.logical_date_gte.CopyFrom(to_timestamp(asked.gte))
        if asked.lte is not None:
            list_request.logical_date_lte.CopyFrom(to_timestamp(asked.lte))
        answer = await runs.ListDagRuns(list_request)
        found.extend(answer.dag_runs)
        if not answer.dag_runs or len(found) >= answer.total_entries:
            return found


@endpoint(Capability.READ)
async def get_calendar(request: Request) -> Response:
    reject_unsupported(request, _UNSUPPORTED)
    dag_id = request.path_params["dag_id"]
    query = parse_query(request, CalendarQuery)
    await get_dag_or_404(request, dag_id)
    asked = query.range()
    runs = await _runs(request, dag_id, asked)
    _, spec = await spec_of(request, dag_id)
    cells = historical_cells(runs, query.granularity)
    cells += planned_cells(spec, last_data_interval(runs, query.granularity), asked, query.granularity)
    return json_response(CalendarTimeRangeCollectionResponse(total_entries=len(cells), dag_runs=cells))


routes = [Route("/calendar/{dag_id}", get_calendar, methods=["GET"])]
