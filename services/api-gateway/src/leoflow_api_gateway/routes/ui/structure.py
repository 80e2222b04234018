"""GET /ui/structure/structure_data: the graph view's nodes and edges of one DAG
version (Airflow's routes/ui/structure.py). Leoflow DAGs have no asset or
cross-DAG dependencies, so `external_dependencies` adds nothing."""

from __future__ import annotations

from leoflow_common.auth import Capability
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.structure import dag_tree, structure_data, subset_task_ids
from ...http.endpoint import endpoint
from ...http.params import parse_query
from ...http.responses import json_response
from ..dag_specs import spec_of


class StructureDataQuery(BaseModel):
    dag_id: str
    include_upstream: bool = False
    include_downstream: bool = False
    depth: int | None = Field(default=None, ge=0)
    root: str | None = None
    external_dependencies: bool = False
    version_number: int | None = Field(default=None, ge=1)


@endpoint(Capability.READ)
async def get_structure_data(request: Request) -> Response:
    query = parse_query(request, StructureDataQuery)
    _, spec = await spec_of(request, query.dag_id, query.version_number or 0)
    task_ids = None
    if query.root:
        task_ids = subset_task_ids(
            spec,
            query.root,
            include_upstream=query.include_upstream,
            include_downstream=query.include_downstream,
            depth=query.depth,
        )
    return json_response(structure_data(spec, dag_tree(spec, task_ids)))


routes = [Route("/structure/structure_data", get_structure_data, methods=["GET"])]
