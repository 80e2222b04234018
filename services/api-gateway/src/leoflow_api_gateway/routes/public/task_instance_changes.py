"""Changing task instances (Airflow's task_instances.py and dag_run.py mutations):
POST /dags/{dag_id}/clearTaskInstances, POST .../dagRuns/{dag_run_id}/clear,
PATCH .../taskInstances/{task_id}[/{map_index}] and their /dry_run twins. The scheduler applies them through its state machine;
the gateway translates the bodies and answers the task instances (to be) changed."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_common.states import TaskInstanceState
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import models_pb2, registry_pb2, runs_pb2, task_instances_pb2
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.common import to_timestamp
from ...convert.dag_run import dag_run_response
from ...convert.task_instances import task_instance_response
from ...datamodels.common import Int32
from ...datamodels.dag_run import DAGRunClearBody
from ...datamodels.task_instances import (
    ClearTaskInstancesBody,
    PatchTaskInstanceBody,
    TaskInstanceCollectionResponse,
)
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError, from_pydantic, or_404
from ...http.params import parse_body, parse_query, path_int, read_json
from ...http.responses import json_response
from ...lookups import Lookups
from .dag_run import ensure_dag_exists, run_not_found
from .task_instances import PREFIX, ti_not_found


async def collection(request: Request, tis: list[models_pb2.TaskInstance]) -> Response:
    names = await Lookups(gateway(request).clients).dag_display_names(ti.dag_id for ti in tis)
    items = [task_instance_response(ti, names[ti.dag_id]) for ti in tis]
    return json_response(TaskInstanceCollectionResponse(task_instances=items, total_entries=len(items)))


def clear_request(dag_id: str, body: ClearTaskInstancesBody, *, dry_run: bool) -> task_instances_pb2.ClearTaskInstancesRequest:
    clear = task_instances_pb2.ClearTaskInstancesRequest(
        dag_id=dag_id,
        run_id=body.dag_run_id or "",
        dry_run=dry_run,
        only_failed=body.only_failed,
        only_running=body.only_running,
        reset_dag_runs=body.reset_dag_runs,
        include_upstream=body.include_upstream,
        include_downstream=body.include_downstream,
        include_future=body.include_future,
        include_past=body.include_past,
        run_on_latest_version=body.run_on_latest_version,
    )
    for marker in body.task_ids or ():
        if isinstance(marker, str):
            clear.task_ids.append(marker)
        else:
            task_id, map_index = marker
            clear.task_instance_keys.append(keys_pb2.TaskInstanceKey(dag_id=dag_id, task_id=task_id, map_index=map_index))
    for name in ("start_date", "end_date"):
        value = getattr(body, name)
        if value is not None:
            getattr(clear, name).CopyFrom(to_timestamp(value))
    return clear


@endpoint(Capability.EXECUTE)
async def post_clear_task_instances(request: Request) -> Response:
    """Clear task instances so they run again (dry_run, the default, only lists them)."""
    dag_id = request.path_params["dag_id"]
    body = await parse_body(request, ClearTaskInstancesBody)
    await ensure_dag_exists(request, dag_id)
    clients = gateway(request).clients
    if body.dag_run_id is not None:
        key = keys_pb2.DagRunKey(dag_id=dag_id, run_id=body.dag_run_id)
        await or_404(
            clients.runs.GetDagRun(runs_pb2.GetDagRunRequest(key=key)),
            HTTPError(404, f"Dag Run id {body.dag_run_id} not found in dag {dag_id}"),
        )
    if body.prevent_running_task:
        # As Airflow: refuse, before changing anything, when a task to clear is running.
        preview = await clients.task_instances.ClearTaskInstances(clear_request(dag_id, body, dry_run=True))
        running = sorted(ti.task_id for ti in preview.task_instances if TaskInstanceState.from_proto(ti.state) == "running")
        if running:
            raise HTTPError(400, f"Task instances are running and cannot be cleared: {', '.join(running)}")
    answer = await clients.task_instances.ClearTaskInstances(clear_request(dag_id, body, dry_run=body.dry_run))
    return await collection(request, list(answer.task_instances))


class PatchQuery(BaseModel):
    map_index: Int32 | None = None
    update_mask: list[str] | None = None


async def _patch(request: Request, map_index: int, *, dry_run: bool) -> Response:
    dag_id, run_id, task_id = (request.path_params[k] for k in ("dag_id", "dag_run_id", "task_id"))
    query = parse_query(request, PatchQuery)
    data = await read_json(request)
    try:
        body = PatchTaskInstanceBody.model_validate(data)
    except ValidationError as exc:
        raise from_pydantic(exc, ("body",)) from None
    fields = body.model_fields_set & set(query.update_mask) if query.update_mask else body.model_fields_set
    if "new_state" in fields and body.new_state is None:
        raise HTTPError(400, "'new_state' should not be empty")
    key = keys_pb2.TaskInstanceKey(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index)
    clients = gateway(request).clients
    if not fields & {"new_state", "note"}:
        # Nothing to change: Airflow answers the task instance as it is.
        call = clients.task_instances.GetTaskInstance(task_instances_pb2.GetTaskInstanceRequest(key=key))
        answer = await or_404(call, ti_not_found(dag_id, run_id, task_id, map_index))
        return await collection(request, [answer.task_instance])
    update = task_instances_pb2.UpdateTaskInstanceStateRequest(
        key=key,
        # Unset with a note: the scheduler changes only the note.
        new_state=TaskInstanceState(body.new_state).to_proto() if "new_state" in fields else 0,
        dry_run=dry_run,
        include_upstream=body.include_upstream,
        include_downstream=body.include_downstream,
        include_future=body.include_future,
        include_past=body.include_past,
    )
    if "note" in fields:
        update.note = body.note or ""
    call = clients.task_instances.UpdateTaskInstanceState(update)
    answer = await or_404(call, ti_not_found(dag_id, run_id, task_id, map_index))
    if "new_state" in fields and not answer.task_instances and not dry_run:
        raise HTTPError(409, f"Task id {task_id} is already in {body.new_state} state")
    return await collection(request, list(answer.task_instances))


def _map_index(request: Request) -> int:
    if "map_index" in request.path_params:
        return path_int(request, "map_index", minimum=-1)
    value = parse_query(request, PatchQuery).map_index
    return -1 if value is None else value


@endpoint(Capability.EXECUTE)
async def patch_task_instance(request: Request) -> Response:
    """Mark a task instance (its map_index, -1 when unmapped) success, failed or skipped."""
    return await _patch(request, _map_index(request), dry_run=False)


@endpoint(Capability.EXECUTE)
async def patch_task_instance_dry_run(request: Request) -> Response:
    """The task instances patch_task_instance would change."""
    return await _patch(request, _map_index(request), dry_run=True)


@endpoint(Capability.EXECUTE)
async def clear_dag_run(request: Request) -> Response:
    """Clear a run's task instances: with dry_run (the default) the ones that would be
    cleared; otherwise the run, re-queued."""
    dag_id, run_id = request.path_params["dag_id"], request.path_params["dag_run_id"]
    body = await parse_body(request, DAGRunClearBody)
    clients = gateway(request).clients
    key = keys_pb2.DagRunKey(dag_id=dag_id, run_id=run_id)
    await or_404(clients.runs.GetDagRun(runs_pb2.GetDagRunRequest(key=key)), run_not_found(dag_id, run_id))
    if body.only_new:
        if body.dry_run:
            return await _new_tasks(request, dag_id, run_id)
        raise HTTPError(501, "Leoflow does not queue only the tasks new in the latest version (only_new) yet")
    clear = task_instances_pb2.ClearTaskInstancesRequest(
        dag_id=dag_id,
        run_id=run_id,
        dry_run=body.dry_run,
        only_failed=body.only_failed,
        reset_dag_runs=True,
        run_on_latest_version=body.run_on_latest_version,
    )
    answer = await clients.task_instances.ClearTaskInstances(clear)
    if body.dry_run:
        return await collection(request, list(answer.task_instances))
    run = await clients.runs.GetDagRun(runs_pb2.GetDagRunRequest(key=key))
    names = await Lookups(clients).dag_display_names([dag_id])
    return json_response(dag_run_response(run.dag_run, names[dag_id]))


async def _new_tasks(request: Request, dag_id: str, run_id: str) -> Response:
    """As Airflow's dry run of only_new: the latest version's tasks the run has no task instance of."""
    clients = gateway(request).clients
    version = await clients.registry.GetDagVersion(registry_pb2.GetDagVersionRequest(dag_id=dag_id, version_number=0))
    listed = await clients.task_instances.ListTaskInstances(
        task_instances_pb2.ListTaskInstancesRequest(dag_id=dag_id, run_id=run_id, page={"limit": 10_000})
    )
    existing = {ti.task_id for ti in listed.task_instances}
    new = sorted({task.task_id for task in version.dag_version.spec.tasks} - existing)
    items = [{"task_id": task_id, "task_display_name": task_id} for task_id in new]
    return json_response({"task_instances": items, "total_entries": len(items)})


routes = [
    Route("/dags/{dag_id}/clearTaskInstances", post_clear_task_instances, methods=["POST"]),
    Route("/dags/{dag_id}/dagRuns/{dag_run_id}/clear", clear_dag_run, methods=["POST"]),
    Route(PREFIX + "/{task_id}", patch_task_instance, methods=["PATCH"]),
    Route(PREFIX + "/{task_id}/dry_run", patch_task_instance_dry_run, methods=["PATCH"]),
    Route(PREFIX + "/{task_id}/{map_index}", patch_task_instance, methods=["PATCH"]),
    Route(PREFIX + "/{task_id}/{map_index}/dry_run", patch_task_instance_dry_run, methods=["PATCH"]),
]
