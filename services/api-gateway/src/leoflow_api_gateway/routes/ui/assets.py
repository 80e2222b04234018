"""GET /ui/next_run_assets/{dag_id}: the assets an asset-scheduled DAG still waits
for (Airflow's routes/ui/assets.py). Leoflow DAGs are never scheduled on assets,
so the answer is Airflow's for a DAG without an asset schedule: no expression, no
events."""

from __future__ import annotations

from leoflow_common.auth import Capability
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...http.endpoint import endpoint
from ..public.dags import get_dag_or_404


@endpoint(Capability.READ)
async def next_run_assets(request: Request) -> Response:
    await get_dag_or_404(request, request.path_params["dag_id"])
    return JSONResponse({"asset_expression": None, "events": []})


routes = [Route("/next_run_assets/{dag_id}", next_run_assets, methods=["GET"])]
