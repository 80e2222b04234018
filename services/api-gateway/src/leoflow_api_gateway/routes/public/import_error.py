"""GET /api/v2/importErrors[/{import_error_id}] (Airflow's routes/public/import_error.py):
DAG files that a source (Lite's workspace watcher) could not compile, from the
scheduler's ImportErrorService. The DAG keeps its last good version meanwhile."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_proto.scheduler.v1 import import_errors_pb2, import_errors_pb2_grpc
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.common import required_ts, text
from ...datamodels.import_error import ImportErrorCollectionResponse, ImportErrorResponse
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError, or_404
from ...http.params import parse_query, path_int
from ...http.responses import json_response
from ..common import PagedQuery, page_of


def _stub(request: Request) -> import_errors_pb2_grpc.ImportErrorServiceStub:
    return import_errors_pb2_grpc.ImportErrorServiceStub(gateway(request).clients.scheduler_channel)


def import_error_response(error: import_errors_pb2.ImportError) -> ImportErrorResponse:
    """Airflow's ImportErrorResponse from the service's ImportError."""
    return ImportErrorResponse(
        import_error_id=error.id,
        timestamp=required_ts(error, "timestamp"),
        filename=error.filename,
        bundle_name=text(error.bundle_name),
        stack_trace=error.stack_trace,
    )


class GetImportErrorsQuery(PagedQuery):
    order_by: list[str] = ["id"]
    filename_pattern: str | None = None
    filename_prefix_pattern: str | None = None


@endpoint(Capability.READ)
async def get_import_errors(request: Request) -> Response:
    """A page of import errors (Airflow's filters: filename_pattern, filename_prefix_pattern)."""
    query = parse_query(request, GetImportErrorsQuery)
    pg = page_of(request, query)
    answer = await _stub(request).ListImportErrors(
        import_errors_pb2.ListImportErrorsRequest(
            page=pg.request(),
            filename_pattern=query.filename_pattern or "",
            filename_prefix_pattern=query.filename_prefix_pattern or "",
        )
    )
    errors = [import_error_response(e) for e in pg.take(list(answer.import_errors))]
    return json_response(ImportErrorCollectionResponse(import_errors=errors, total_entries=answer.total_entries))


@endpoint(Capability.READ)
async def get_import_error(request: Request) -> Response:
    error_id = path_int(request, "import_error_id")
    not_found = HTTPError(404, f"The ImportError with import_error_id: `{error_id}` was not found")
    if error_id <= 0:
        raise not_found
    answer = await or_404(_stub(request).GetImportError(import_errors_pb2.GetImportErrorRequest(id=error_id)), not_found)
    return json_response(import_error_response(answer.import_error))


routes = [
    Route("/importErrors", get_import_errors, methods=["GET"]),
    Route("/importErrors/{import_error_id}", get_import_error, methods=["GET"]),
]
