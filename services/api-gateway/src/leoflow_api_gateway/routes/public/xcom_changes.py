"""Writing XComs by hand (Airflow's create_xcom_entry, update_xcom_entry,
delete_xcom_entry): POST / PATCH / DELETE .../taskInstances/{task_id}/xcomEntries[/{key}].
The xcom service stores the value (and enforces its size cap); the gateway checks
what Airflow checks first: the task instance exists, the key does (not) yet."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from leoflow_common.auth import Capability
from leoflow_common.errors import NotFound
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import task_instances_pb2
from leoflow_proto.xcom.v1 import xcom_pb2
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.xcom import xcom_entry_response
from ...datamodels.common import INT32_MAX
from ...datamodels.xcom import XComCreateBody, XComUpdateBody
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError, leoflow_error_of, or_404
from ...http.params import parse_body, parse_query
from ...http.responses import json_response
from ...lookups import Lookups
from .xcom import PREFIX


def _path(request: Request) -> tuple[str, str, str]:
    return request.path_params["dag_id"], request.path_params["dag_run_id"], request.path_params["task_id"]


async def _existing(request: Request, key: keys_pb2.TaskInstanceKey, xcom_key: str) -> xcom_pb2.XComEntry | None:
    try:
        answer = await gateway(request).clients.xcom.GetXCom(xcom_pb2.GetXComRequest(key=key, xcom_key=xcom_key))
    except Exception as exc:
        if isinstance(leoflow_error_of(exc), NotFound):
            return None
        raise
    return answer.entry


async def _store(request: Request, key: keys_pb2.TaskInstanceKey, xcom_key: str, value: Any, status_code: int) -> Response:
    clients = gateway(request).clients
    push = xcom_pb2.PushXComRequest(key=key, xcom_key=xcom_key, value_json=json.dumps(value).encode())
    entry = (await clients.xcom.PushXCom(push)).entry
    if not entry.value_json:  # the service answers the stored entry without echoing its value
        entry.value_json = push.value_json
    lookups = Lookups(clients)
    runs, names, tasks = await asyncio.gather(
        lookups.dag_runs([(key.dag_id, key.run_id)]),
        lookups.dag_display_names([key.dag_id]),
        lookups.task_display_names([(key.dag_id, key.run_id, key.task_id, key.map_index)]),
    )
    run = runs[(key.dag_id, key.run_id)]
    if run is None:  # deleted meanwhile
        raise HTTPError(404, f"Dag Run with ID: `{key.run_id}` not found for dag: `{key.dag_id}`")
    display = (names[key.dag_id], tasks[(key.dag_id, key.run_id, key.task_id, key.map_index)])
    return json_response(xcom_entry_response(entry, run, display, stringify=False), status_code=status_code)


@endpoint(Capability.EXECUTE)
async def create_xcom_entry(request: Request) -> Response:
    dag_id, run_id, task_id = _path(request)
    body = await parse_body(request, XComCreateBody)
    key = keys_pb2.TaskInstanceKey(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=body.map_index)
    call = gateway(request).clients.task_instances.GetTaskInstance(task_instances_pb2.GetTaskInstanceRequest(key=key))
    await or_404(call, HTTPError(404, f"Task with ID: `{task_id}` not found in dag: `{dag_id}`"))
    if await _existing(request, key, body.key) is not None:
        raise HTTPError(409, f"The XCom with key: `{body.key}` with mentioned task instance already exists.")
    return await _store(request, key, body.key, body.value, 201)


@endpoint(Capability.EXECUTE)
async def update_xcom_entry(request: Request) -> Response:
    dag_id, run_id, task_id = _path(request)
    xcom_key = request.path_params["xcom_key"]
    body = await parse_body(request, XComUpdateBody)
    key = keys_pb2.TaskInstanceKey(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=body.map_index)
    if await _existing(request, key, xcom_key) is None:
        raise HTTPError(404, f"The XCom with key: `{xcom_key}` with mentioned task instance doesn't exist.")
    return await _store(request, key, xcom_key, body.value, 200)


class DeleteXComQuery(BaseModel):
    map_index: int = Field(default=-1, ge=-1, le=INT32_MAX)


@endpoint(Capability.EXECUTE)
async def delete_xcom_entry(request: Request) -> Response:
    dag_id, run_id, task_id = _path(request)
    xcom_key = request.path_params["xcom_key"]
    query = parse_query(request, DeleteXComQuery)
    delete = xcom_pb2.DeleteXComsRequest(dag_id=dag_id, run_id=run_id, task_ids=[task_id], xcom_key=xcom_key)
    delete.map_index = query.map_index
    answer = await gateway(request).clients.xcom.DeleteXComs(delete)
    if answer.deleted == 0:
        raise HTTPError(404, f"The XCom with key: `{xcom_key}` with mentioned task instance doesn't exist.")
    return Response(status_code=204)


routes = [
    Route(PREFIX, create_xcom_entry, methods=["POST"]),
    Route(PREFIX + "/{xcom_key}", update_xcom_entry, methods=["PATCH"]),
    Route(PREFIX + "/{xcom_key}", delete_xcom_entry, methods=["DELETE"]),
]
