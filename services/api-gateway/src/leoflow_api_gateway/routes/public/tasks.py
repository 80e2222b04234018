"""GET /api/v2/dags/{dag_id}/tasks[/{task_id}]: the tasks the DAG's latest version
declares (Airflow's routes/public/tasks.py)."""

from __future__ import annotations

from leoflow_common.auth import Capability
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.tasks import downstream_ids, task_response
from ...datamodels.tasks import TaskCollectionResponse
from ...http.endpoint import endpoint
from ...http.errors import HTTPError
from ...http.params import parse_query
from ...http.responses import json_response
from ..dag_specs import spec_of

_SORTABLE = {"task_id", "task_display_name"}


class GetTasksQuery(BaseModel):
    order_by: str = "task_id"


@endpoint(Capability.READ)
async def get_tasks(request: Request) -> Response:
    query = parse_query(request, GetTasksQuery)
    key = query.order_by.removeprefix("-")
    if key not in _SORTABLE:
        raise HTTPError(400, f"Ordering with '{query.order_by}' is disallowed or the attribute does not exist on the model")
    _, spec = await spec_of(request, request.path_params["dag_id"])
    downstream = downstream_ids(spec)
    tasks = [task_response(spec, task, downstream[task.task_id]) for task in spec.tasks]
    tasks.sort(key=lambda t: getattr(t, key) or "", reverse=query.order_by.startswith("-"))
    return json_response(TaskCollectionResponse(tasks=tasks, total_entries=len(tasks)))


@endpoint(Capability.READ)
async def get_task(request: Request) -> Response:
    dag_id, task_id = request.path_params["dag_id"], request.path_params["task_id"]
    _, spec = await spec_of(request, dag_id)
    for task in spec.tasks:
        if task.task_id == task_id:
            return json_response(task_response(spec, task, downstream_ids(spec)[task_id]))
    raise HTTPError(404, f"Task with id {task_id} not found")


routes = [
    Route("/dags/{dag_id}/tasks", get_tasks, methods=["GET"]),
    Route("/dags/{dag_id}/tasks/{task_id}", get_task, methods=["GET"]),
]
