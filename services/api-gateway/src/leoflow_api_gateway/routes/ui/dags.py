"""GET /ui/dags (the DAG list page: each DAG with its latest runs; without it the
UI's list stays empty) and /ui/dags/{dag_id}/latest_run (Airflow's routes/ui/dags.py)."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import runs_pb2
from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...convert.dag_run import dag_run_light_response
from ...convert.dags import dag_with_latest_runs_response
from ...datamodels.ui.dags import DAGWithLatestDagRunsCollectionResponse
from ...http.endpoint import endpoint, gateway
from ...http.params import parse_query, reject_unsupported
from ...http.responses import json_response
from ..public.dags import GetDagsQuery, file_tokens, list_dags_request


class GetDagsUiQuery(GetDagsQuery):
    dag_runs_limit: int = Field(default=10, ge=0)
    dag_ids: list[str] = []


# has_pending_actions=false matches every DAG (Leoflow has no pending actions);
# true matches none, which the filter below answers without asking the registry.
_UNSUPPORTED_UI_FILTERS = frozenset(
    {
        "dag_id_prefix_pattern",
        "dag_display_name_prefix_pattern",
        "bundle_name",
        "bundle_version",
        "has_asset_schedule",
        "asset_dependency",
    }
)


# /ui/dags also sorts by "state" and "start_date": Airflow's names, here, for the
# latest run's state and start date.
_UI_ORDER_ALIASES = {"state": "last_run_state", "start_date": "last_run_start_date"}


def _order_alias(field: str) -> str:
    descending, name = field.startswith("-"), field.lstrip("-")
    return ("-" if descending else "") + _UI_ORDER_ALIASES.get(name, name)


@endpoint(Capability.READ)
async def get_dags_ui(request: Request) -> Response:
    reject_unsupported(request, _UNSUPPORTED_UI_FILTERS)
    query = parse_query(request, GetDagsUiQuery)
    if request.query_params.get("has_pending_actions") == "true":
        return json_response(DAGWithLatestDagRunsCollectionResponse(total_entries=0, dags=[]))
    list_request, pg = list_dags_request(request, query)
    order_by = [_order_alias(field) for field in list_request.page.order_by]
    del list_request.page.order_by[:]
    list_request.page.order_by.extend(order_by)
    list_request.latest_runs_limit = query.dag_runs_limit
    list_request.dag_ids.extend(query.dag_ids)
    answer = await gateway(request).clients.registry.ListDags(list_request)
    signer = file_tokens(request)
    dags = [dag_with_latest_runs_response(dag, signer) for dag in pg.take(list(answer.dags))]
    return json_response(DAGWithLatestDagRunsCollectionResponse(total_entries=answer.total_entries, dags=dags))


@endpoint(Capability.READ)
async def get_latest_run_info(request: Request) -> Response:
    """The DAG's most recent run (by run_after) in its light form, or null."""
    dag_id = request.path_params["dag_id"]
    latest = runs_pb2.ListDagRunsRequest(dag_id=dag_id, page=keys_pb2.PageRequest(limit=1, order_by=["-run_after"]))
    answer = await gateway(request).clients.runs.ListDagRuns(latest)
    if not answer.dag_runs:
        return JSONResponse(None)
    return json_response(dag_run_light_response(answer.dag_runs[0]))


routes = [
    Route("/dags", get_dags_ui, methods=["GET"]),
    Route("/dags/{dag_id}/latest_run", get_latest_run_info, methods=["GET"]),
]
