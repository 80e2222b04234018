"""/api/v2/backfills: create (and dry run), list, get, pause, unpause, cancel
(Airflow 3.2.2's routes/public/backfills.py), over the scheduler's BackfillService."""

from __future__ import annotations

from datetime import UTC as _UTC

from leoflow_common.auth import Capability
from leoflow_common.errors import InvalidArgument, NotFound
from leoflow_proto.scheduler.v1 import backfills_pb2, backfills_pb2_grpc
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.backfills import backfill_response, backfill_spec
from ...datamodels.backfills import (
    BackfillCollectionResponse,
    BackfillPostBody,
    DryRunBackfillCollectionResponse,
    DryRunBackfillResponse,
)
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError, invalid_input, leoflow_error_of
from ...http.params import parse_body, parse_query, path_int
from ...http.responses import json_response
from ..common import PagedQuery, page_of


def backfill_stub(request: Request) -> backfills_pb2_grpc.BackfillServiceStub:
    return backfills_pb2_grpc.BackfillServiceStub(gateway(request).clients.scheduler_channel)


async def call(request_call, request: Request, *, not_found: str | None = None):
    """The answer, errors in Airflow's shapes: the backfill's validation problems
    are 422 in FastAPI's shape (the spec's HTTPValidationError), naming the field."""
    try:
        return await request_call
    except Exception as exc:
        error = leoflow_error_of(exc)
        if isinstance(error, NotFound):
            raise HTTPError(404, not_found or error.message) from None
        if isinstance(error, InvalidArgument):
            raise invalid_input(error, request) from None
        raise


class ListBackfillsQuery(PagedQuery):
    dag_id: str


@endpoint(Capability.READ)
async def list_backfills(request: Request) -> Response:
    """The backfills of one DAG."""
    query = parse_query(request, ListBackfillsQuery)
    pg = page_of(request, query)
    answer = await call(
        backfill_stub(request).ListBackfills(backfills_pb2.ListBackfillsRequest(dag_id=query.dag_id, page=pg.request())),
        request,
    )
    items = [backfill_response(b) for b in pg.take(list(answer.backfills))]
    return json_response(BackfillCollectionResponse(backfills=items, total_entries=answer.total_entries))


@endpoint(Capability.READ)
async def get_backfill(request: Request) -> Response:
    backfill_id = path_int(request, "backfill_id", minimum=0)
    answer = await call(
        backfill_stub(request).GetBackfill(backfills_pb2.GetBackfillRequest(backfill_id=backfill_id)),
        request,
        not_found="Backfill not found",
    )
    return json_response(backfill_response(answer.backfill))


def _change(rpc_name: str, request_type):
    @endpoint(Capability.EXECUTE)
    async def change(request: Request) -> Response:
        backfill_id = path_int(request, "backfill_id", minimum=0)
        rpc = getattr(backfill_stub(request), rpc_name)
        answer = await call(
            rpc(request_type(backfill_id=backfill_id)), request, not_found=f"Could not find backfill with id {backfill_id}"
        )
        return json_response(backfill_response(answer.backfill))

    change.__name__ = rpc_name
    return change


pause_backfill = _change("PauseBackfill", backfills_pb2.PauseBackfillRequest)
unpause_backfill = _change("UnpauseBackfill", backfills_pb2.UnpauseBackfillRequest)
cancel_backfill = _change("CancelBackfill", backfills_pb2.CancelBackfillRequest)


@endpoint(Capability.EXECUTE)
async def create_backfill(request: Request) -> Response:
    """Create a backfill and its runs."""
    body = await parse_body(request, BackfillPostBody)
    answer = await call(
        backfill_stub(request).CreateBackfill(backfills_pb2.CreateBackfillRequest(backfill=backfill_spec(body))),
        request,
        not_found=f"Could not find dag {body.dag_id}",
    )
    return json_response(backfill_response(answer.backfill))


@endpoint(Capability.EXECUTE)
async def create_backfill_dry_run(request: Request) -> Response:
    """The logical dates a backfill would run."""
    body = await parse_body(request, BackfillPostBody)
    answer = await call(
        backfill_stub(request).DryRunBackfill(backfills_pb2.DryRunBackfillRequest(backfill=backfill_spec(body))),
        request,
        not_found=f"Could not find dag {body.dag_id}",
    )
    items = [
        DryRunBackfillResponse(logical_date=stamp.ToDatetime(tzinfo=_UTC), partition_key=None, partition_date=None)
        for stamp in answer.logical_dates
    ]
    return json_response(DryRunBackfillCollectionResponse(backfills=items, total_entries=len(items)))


routes = [
    Route("/backfills", list_backfills, methods=["GET"]),
    Route("/backfills", create_backfill, methods=["POST"]),
    Route("/backfills/dry_run", create_backfill_dry_run, methods=["POST"]),
    Route("/backfills/{backfill_id}", get_backfill, methods=["GET"]),
    Route("/backfills/{backfill_id}/pause", pause_backfill, methods=["PUT"]),
    Route("/backfills/{backfill_id}/unpause", unpause_backfill, methods=["PUT"]),
    Route("/backfills/{backfill_id}/cancel", cancel_backfill, methods=["PUT"]),
]
