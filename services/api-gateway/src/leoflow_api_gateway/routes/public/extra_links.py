"""GET .../taskInstances/{task_id}/links: operator extra links. The operators a
Leoflow DAG can use (Python, Bash, Empty, branch, short-circuit) declare none, so
an existing task instance has an empty map (Airflow's routes/public/extra_links.py)."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import task_instances_pb2
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...datamodels.common import INT32_MAX
from ...http.endpoint import endpoint, gateway
from ...http.errors import or_404
from ...http.params import parse_query
from .task_instances import ti_not_found


class ExtraLinksQuery(BaseModel):
    map_index: int = Field(default=-1, ge=-1, le=INT32_MAX)
    try_number: int | None = Field(default=None, ge=0, le=INT32_MAX)


@endpoint(Capability.READ)
async def get_extra_links(request: Request) -> Response:
    dag_id, run_id, task_id = (request.path_params[k] for k in ("dag_id", "dag_run_id", "task_id"))
    query = parse_query(request, ExtraLinksQuery)
    key = keys_pb2.TaskInstanceKey(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=query.map_index)
    call = gateway(request).clients.task_instances.GetTaskInstance(task_instances_pb2.GetTaskInstanceRequest(key=key))
    await or_404(call, ti_not_found(dag_id, run_id, task_id, query.map_index))
    return JSONResponse({"extra_links": {}, "total_entries": 0})


routes = [Route("/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/links", get_extra_links, methods=["GET"])]
