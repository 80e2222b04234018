"""/ui/backfills: the backfills the UI's banner shows (Airflow's list_backfills_ui:
any DAG or one, only active ones with active=true)."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_proto.scheduler.v1 import backfills_pb2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.backfills import backfill_response
from ...datamodels.backfills import BackfillCollectionResponse
from ...http.endpoint import endpoint
from ...http.params import parse_query
from ...http.responses import json_response
from ..common import PagedQuery, page_of
from ..public.backfills import backfill_stub, call


class ListBackfillsUiQuery(PagedQuery):
    dag_id: str | None = None
    active: bool | None = None


@endpoint(Capability.READ)
async def list_backfills_ui(request: Request) -> Response:
    query = parse_query(request, ListBackfillsUiQuery)
    pg = page_of(request, query)
    list_request = backfills_pb2.ListBackfillsRequest(dag_id=query.dag_id or "", page=pg.request())
    if query.active is not None:
        list_request.active = query.active
    answer = await call(backfill_stub(request).ListBackfills(list_request), request)
    items = [backfill_response(b) for b in pg.take(list(answer.backfills))]
    return json_response(BackfillCollectionResponse(backfills=items, total_entries=answer.total_entries))


routes = [Route("/backfills", list_backfills_ui, methods=["GET"])]
