"""GET /ui/gantt/{dag_id}/{run_id}: the Gantt view of one run (Airflow's
routes/ui/gantt.py): every try of its unmapped tasks, 404 when it has none."""

from __future__ import annotations

import asyncio

from leoflow_common.auth import Capability
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import models_pb2, task_instances_pb2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.gantt import gantt_bars
from ...datamodels.ui.gantt import GanttResponse
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError
from ...http.responses import json_response

_TI_PAGE = 1000


async def _unmapped_task_instances(request: Request, dag_id: str, run_id: str) -> list[models_pb2.TaskInstance]:
    clients = gateway(request).clients
    found: list[models_pb2.TaskInstance] = []
    while True:
        answer = await clients.task_instances.ListTaskInstances(
            task_instances_pb2.ListTaskInstancesRequest(
                dag_id=dag_id,
                run_id=run_id,
                map_index=-1,
                page=keys_pb2.PageRequest(limit=_TI_PAGE, offset=len(found), order_by=["task_id"]),
            )
        )
        found.extend(answer.task_instances)
        if not answer.task_instances or len(found) >= answer.total_entries:
            return found


@endpoint(Capability.READ)
async def get_gantt_data(request: Request) -> Response:
    dag_id, run_id = request.path_params["dag_id"], request.path_params["run_id"]
    current = await _unmapped_task_instances(request, dag_id, run_id)
    if not current:
        raise HTTPError(404, f"No task instances for dag_id={dag_id} run_id={run_id}")
    # Only a task instance past its first try has earlier tries to ask for.
    retried = [ti for ti in current if ti.try_number > 1]
    histories = await asyncio.gather(
        *(
            gateway(request).clients.task_instances.ListTaskInstanceTries(
                task_instances_pb2.ListTaskInstanceTriesRequest(
                    key=keys_pb2.TaskInstanceKey(dag_id=dag_id, run_id=run_id, task_id=ti.task_id, map_index=-1)
                )
            )
            for ti in retried
        )
    )
    tries = [*current, *(t for answer in histories for t in answer.tries)]
    return json_response(GanttResponse(dag_id=dag_id, run_id=run_id, task_instances=gantt_bars(tries)))


routes = [Route("/gantt/{dag_id}/{run_id}", get_gantt_data, methods=["GET"])]
