"""GET /ui/dependencies: the graph of scheduling dependencies between DAGs
(Airflow's routes/ui/dependencies.py), drawn by the graph view's "external
dependencies" option.

Leoflow DAGs have no asset schedules, no asset outlets and no cross-DAG sensors or
triggers, so no DAG depends on another: asked about one DAG (`node_id=dag:<id>`),
the graph is that DAG alone; asked about everything, it is empty (Airflow lists
only DAGs that have dependencies). Data (asset) dependencies need an asset, and
Leoflow has none."""

from __future__ import annotations

from typing import Literal

from leoflow_common.auth import Capability
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...http.endpoint import endpoint
from ...http.errors import HTTPError
from ...http.params import parse_query
from ..public.dags import get_dag_or_404


class DependenciesQuery(BaseModel):
    node_id: str | None = None
    dependency_type: Literal["scheduling", "data"] = "scheduling"


@endpoint(Capability.READ)
async def get_dependencies(request: Request) -> Response:
    query = parse_query(request, DependenciesQuery)
    node_id = query.node_id
    if query.dependency_type == "data":
        if node_id is None or not node_id.startswith("asset:"):
            raise HTTPError(400, "Data dependencies require an asset node_id (e.g., 'asset:123')")
        asset_id = node_id.removeprefix("asset:")
        if not asset_id.isdigit():
            raise HTTPError(400, f"Invalid asset node_id: {node_id}")
        raise HTTPError(404, f"Asset with id {asset_id} was not found")
    if node_id is None:
        return JSONResponse({"edges": [], "nodes": []})
    if not node_id.startswith("dag:"):
        raise HTTPError(404, f"Node {node_id} was not found: Leoflow has no assets, triggers or sensors across DAGs")
    dag = await get_dag_or_404(request, node_id.removeprefix("dag:"))
    return JSONResponse({"edges": [], "nodes": [{"id": node_id, "label": dag.dag_id, "type": "dag"}]})


routes = [Route("/dependencies", get_dependencies, methods=["GET"])]
