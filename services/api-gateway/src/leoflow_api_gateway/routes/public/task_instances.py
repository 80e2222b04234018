"""/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances: list ("~" for every DAG
and run), get one (by task, or task and map index), and its tries (Airflow's
routes/public/task_instances.py)."""

from __future__ import annotations

import asyncio
from typing import Literal

from leoflow_common.auth import Capability
from leoflow_common.states import TaskInstanceState as TIState
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import (
    filters_pb2,
    models_pb2,
    registry_pb2,
    runs_pb2,
    task_instances_pb2,
)
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.task_instances import task_instance_history_response, task_instance_response
from ...datamodels.common import INT32_MAX, TaskInstanceState
from ...datamodels.task_instances import (
    TaskInstanceCollectionResponse,
    TaskInstanceHistoryCollectionResponse,
    TaskInstancesBatchBody,
)
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError, or_404
from ...http.filters import AnyOf, Pattern, Ranges, body_ranges, query_filters
from ...http.params import parse_body, parse_query, path_int
from ...http.responses import json_response
from ...lookups import Lookups
from ..common import PagedQuery, page_of, wildcard
from .dag_run import BATCH_RANGES, batch_page, ensure_dag_exists, only_tilde, run_not_found


class GetTaskInstancesQuery(PagedQuery):
    cursor: str | None = None
    task_id: str | None = None
    # Airflow also accepts "none" / "no_status" for task instances without a state.
    state: list[TaskInstanceState | Literal["none", "no_status"]] = []
    task_group_id: str | None = None


# Filters the scheduler applies as FieldFilters (Airflow's semantics: a task not
# started or not ended yet counts as starting or ending now).
TI_FILTERS = (
    *(Ranges(name) for name in ("run_after", "logical_date", "start_date", "end_date", "updated_at")),
    Ranges("duration", kind="number"),
    *(
        Pattern(f"{name}{suffix}", field, prefix=suffix == "_prefix_pattern")
        for name, field in (
            ("task_display_name", "task_display_name"),
            ("dag_id", "dag_id"),
            ("run_id", "run_id"),
            ("pool_name", "pool"),
            ("queue_name", "queue"),
            ("operator_name", "operator_name"),
            ("rendered_map_index", "rendered_map_index"),
        )
        for suffix in ("_pattern", "_prefix_pattern")
    ),
    AnyOf("pool", "pool"),
    AnyOf("queue", "queue"),
    AnyOf("executor", "executor"),
    AnyOf("operator", "operator"),
    AnyOf("version_number", "version_number", kind="int"),
    AnyOf("try_number", "try_number", kind="int"),
    AnyOf("map_index", "map_index", kind="int"),
)


async def _task_group_filter(request: Request, dag_id: str, group_id: str) -> filters_pb2.FieldFilter:
    """The task ids of a task group (nested groups included), from the DAG's latest version; 404 if none."""
    if dag_id == "~":
        raise HTTPError(400, "task_group_id filters the task instances of one Dag: name the dag_id")
    call = gateway(request).clients.registry.GetDagVersion(registry_pb2.GetDagVersionRequest(dag_id=dag_id, version_number=0))
    spec = (await or_404(call, HTTPError(404, f"The Dag with ID: `{dag_id}` was not found"))).dag_version.spec
    children: dict[str, list[str]] = {}
    for group in spec.task_groups:
        children.setdefault(group.parent_group_id, []).append(group.group_id)
    if group_id not in {group.group_id for group in spec.task_groups}:
        raise HTTPError(404, {"reason": "not_found", "message": f"Task group {group_id} not found"})
    groups, pending = set(), [group_id]
    while pending:
        current = pending.pop()
        groups.add(current)
        pending.extend(children.get(current, ()))
    task_ids = [task.task_id for task in spec.tasks if task.task_group_id in groups]
    return filters_pb2.FieldFilter(field="task_id", operator=filters_pb2.FILTER_OPERATOR_IN, strings=task_ids)


def ti_not_found(dag_id: str, run_id: str, task_id: str, map_index: int | None = None) -> HTTPError:
    if map_index is None:
        return HTTPError(
            404, f"The Task Instance with dag_id: `{dag_id}`, run_id: `{run_id}` and task_id: `{task_id}` was not found"
        )
    return HTTPError(
        404,
        f"The Task Instance with dag_id: `{dag_id}`, run_id: `{run_id}`, task_id: `{task_id}` "
        f"and map_index: `{map_index}` was not found",
    )


async def ensure_run_exists(request: Request, dag_id: str, run_id: str) -> None:
    if run_id == "~":
        return
    key = keys_pb2.DagRunKey(dag_id=dag_id, run_id=run_id)
    await or_404(gateway(request).clients.runs.GetDagRun(runs_pb2.GetDagRunRequest(key=key)), run_not_found(dag_id, run_id))


def list_request(request: Request, query: GetTaskInstancesQuery, dag_id: str, run_id: str, page) -> task_instances_pb2.ListTaskInstancesRequest:
    """The ListTaskInstances call for Airflow's filters (shared with the batch list)."""
    states = [s for s in query.state if s not in ("none", "no_status")]
    return task_instances_pb2.ListTaskInstancesRequest(
        dag_id=wildcard(dag_id),
        run_id=wildcard(run_id),
        task_id=query.task_id or "",
        page=page.request(),
        states=[TIState(s).to_proto() for s in states],
        include_no_state=len(states) != len(query.state),
        filters=query_filters(request, TI_FILTERS),
    )


@endpoint(Capability.READ)
async def get_task_instances(request: Request) -> Response:
    """Task instances of a run; "~" as dag_id and/or dag_run_id lists across them."""
    dag_id, run_id = request.path_params["dag_id"], request.path_params["dag_run_id"]
    if run_id != "~" and dag_id == "~":
        raise HTTPError(400, "dag_id is required when dag_run_id is specified")
    query = parse_query(request, GetTaskInstancesQuery)
    pg = page_of(request, query, cursor=query.cursor)
    clients = gateway(request).clients
    call = list_request(request, query, dag_id, run_id, pg)
    if query.task_group_id is not None:
        call.filters.append(await _task_group_filter(request, dag_id, query.task_group_id))
    _, _, answer = await asyncio.gather(
        ensure_dag_exists(request, dag_id),
        ensure_run_exists(request, dag_id, run_id),
        clients.task_instances.ListTaskInstances(call),
    )
    tis = pg.take(list(answer.task_instances))
    names = await Lookups(clients).dag_display_names(ti.dag_id for ti in tis)
    items = [task_instance_response(ti, names[ti.dag_id]) for ti in tis]
    return json_response(TaskInstanceCollectionResponse(task_instances=items, **pg.answer(len(items), answer.total_entries)))


async def _get_one(request: Request, map_index: int, *, mapped_route: bool) -> Response:
    dag_id, run_id, task_id = (request.path_params[k] for k in ("dag_id", "dag_run_id", "task_id"))
    clients = gateway(request).clients
    key = keys_pb2.TaskInstanceKey(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index)
    call = clients.task_instances.GetTaskInstance(task_instances_pb2.GetTaskInstanceRequest(key=key))
    answer = await or_404(call, ti_not_found(dag_id, run_id, task_id, map_index if mapped_route else None))
    names = await Lookups(clients).dag_display_names([dag_id])
    return json_response(task_instance_response(answer.task_instance, names[dag_id]))


@endpoint(Capability.READ)
async def get_task_instance(request: Request) -> Response:
    """An unmapped task instance (map_index -1)."""
    return await _get_one(request, -1, mapped_route=False)


@endpoint(Capability.READ)
async def get_mapped_task_instance(request: Request) -> Response:
    """.../{task_id}/{map_index}: the form the UI always uses (-1 for unmapped tasks)."""
    return await _get_one(request, path_int(request, "map_index", minimum=-1), mapped_route=True)


class TryQuery(BaseModel):
    map_index: int = Field(default=-1, ge=-1, le=INT32_MAX)


async def _tries(request: Request, map_index: int) -> tuple[list[models_pb2.TaskInstance], str]:
    """Every try of the task instance, oldest first, and the DAG's display name."""
    dag_id, run_id, task_id = (request.path_params[k] for k in ("dag_id", "dag_run_id", "task_id"))
    clients = gateway(request).clients
    key = keys_pb2.TaskInstanceKey(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index)
    call = clients.task_instances.ListTaskInstanceTries(task_instances_pb2.ListTaskInstanceTriesRequest(key=key))
    answer = await or_404(call, ti_not_found(dag_id, run_id, task_id, map_index))
    names = await Lookups(clients).dag_display_names([dag_id])
    return list(answer.tries), names[dag_id]


async def _tries_response(request: Request, map_index: int) -> Response:
    tries, dag_name = await _tries(request, map_index)
    items = [task_instance_history_response(t, dag_name) for t in tries]
    return json_response(TaskInstanceHistoryCollectionResponse(task_instances=items, total_entries=len(items)))


async def _try_response(request: Request, map_index: int) -> Response:
    number = path_int(request, "task_try_number", minimum=0)
    tries, dag_name = await _tries(request, map_index)
    for one in tries:
        if one.try_number == number:
            return json_response(task_instance_history_response(one, dag_name))
    dag_id, run_id, task_id = (request.path_params[k] for k in ("dag_id", "dag_run_id", "task_id"))
    raise HTTPError(
        404,
        f"The Task Instance with dag_id: `{dag_id}`, run_id: `{run_id}`, task_id: `{task_id}`, "
        f"try_number: `{number}` and map_index: `{map_index}` was not found",
    )


@endpoint(Capability.READ)
async def get_task_instance_tries(request: Request) -> Response:
    """Every try of an unmapped task instance (the UI's try selector)."""
    return await _tries_response(request, parse_query(request, TryQuery).map_index)


@endpoint(Capability.READ)
async def get_mapped_task_instance_tries(request: Request) -> Response:
    return await _tries_response(request, path_int(request, "map_index", minimum=-1))


@endpoint(Capability.READ)
async def get_task_instance_try_details(request: Request) -> Response:
    return await _try_response(request, parse_query(request, TryQuery).map_index)


@endpoint(Capability.READ)
async def get_mapped_task_instance_try_details(request: Request) -> Response:
    return await _try_response(request, path_int(request, "map_index", minimum=-1))


@endpoint(Capability.READ)
async def get_task_instances_batch(request: Request) -> Response:
    """POST /dags/~/dagRuns/~/taskInstances/list: the list with its filters in the body."""
    only_tilde(request, "dag_id", "dag_run_id")
    body = await parse_body(request, TaskInstancesBatchBody)
    pg = batch_page(request, body.page_offset, body.page_limit, body.order_by)
    if any(ids is not None and not ids for ids in (body.dag_ids, body.dag_run_ids, body.task_ids)):
        return json_response(TaskInstanceCollectionResponse(task_instances=[], total_entries=0))
    filters = body_ranges(body, BATCH_RANGES)
    for name in ("pool", "queue", "executor"):
        values = getattr(body, name)
        if values is not None:
            filters.append(filters_pb2.FieldFilter(field=name, operator=filters_pb2.FILTER_OPERATOR_IN, strings=values))
    states = body.state or []
    call = task_instances_pb2.ListTaskInstancesRequest(
        dag_ids=body.dag_ids or [],
        run_ids=body.dag_run_ids or [],
        task_ids=body.task_ids or [],
        page=pg.request(),
        states=[TIState(s).to_proto() for s in states if s is not None],
        include_no_state=None in states,
        filters=filters,
    )
    clients = gateway(request).clients
    answer = await clients.task_instances.ListTaskInstances(call)
    tis = pg.take(list(answer.task_instances))
    names = await Lookups(clients).dag_display_names(ti.dag_id for ti in tis)
    items = [task_instance_response(ti, names[ti.dag_id]) for ti in tis]
    return json_response(TaskInstanceCollectionResponse(task_instances=items, total_entries=answer.total_entries))


class GetMappedTaskInstancesQuery(PagedQuery):
    state: list[TaskInstanceState | Literal["none", "no_status"]] = []


async def _ensure_mapped_task(request: Request, dag_id: str, task_id: str) -> None:
    """As Airflow when a task has no mapped instances: 404 unless it is a mapped task of the DAG."""
    call = gateway(request).clients.registry.GetDagVersion(registry_pb2.GetDagVersionRequest(dag_id=dag_id, version_number=0))
    spec = (await or_404(call, HTTPError(404, f"The Dag with ID: `{dag_id}` was not found"))).dag_version.spec
    task = next((t for t in spec.tasks if t.task_id == task_id), None)
    if task is None:
        raise HTTPError(404, f"Task id {task_id} not found")
    if not task.HasField("mapping"):
        raise HTTPError(404, f"Task id {task_id} is not mapped")


@endpoint(Capability.READ)
async def get_mapped_task_instances(request: Request) -> Response:
    """The mapped instances (map_index >= 0) of a task in a run, with the list's filters."""
    dag_id, run_id, task_id = (request.path_params[k] for k in ("dag_id", "dag_run_id", "task_id"))
    query = parse_query(request, GetMappedTaskInstancesQuery)
    pg = page_of(request, query)
    states = [s for s in query.state if s not in ("none", "no_status")]
    mapped = filters_pb2.FieldFilter(field="map_index", operator=filters_pb2.FILTER_OPERATOR_GTE, numbers=[0])
    call = task_instances_pb2.ListTaskInstancesRequest(
        dag_id=dag_id,
        run_id=run_id,
        task_id=task_id,
        page=pg.request(),
        states=[TIState(s).to_proto() for s in states],
        include_no_state=len(states) != len(query.state),
        filters=[mapped, *query_filters(request, TI_FILTERS)],
    )
    clients = gateway(request).clients
    await ensure_run_exists(request, dag_id, run_id)
    answer = await clients.task_instances.ListTaskInstances(call)
    if answer.total_entries == 0:
        unfiltered = task_instances_pb2.ListTaskInstancesRequest(
            dag_id=dag_id, run_id=run_id, task_id=task_id, page={"limit": 1}, filters=[mapped]
        )
        if (await clients.task_instances.ListTaskInstances(unfiltered)).total_entries == 0:
            await _ensure_mapped_task(request, dag_id, task_id)
    tis = pg.take(list(answer.task_instances))
    names = await Lookups(clients).dag_display_names([dag_id])
    items = [task_instance_response(ti, names[dag_id]) for ti in tis]
    return json_response(TaskInstanceCollectionResponse(task_instances=items, total_entries=answer.total_entries))


PREFIX = "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances"

routes = [
    Route(PREFIX, get_task_instances, methods=["GET"]),
    Route(PREFIX + "/list", get_task_instances_batch, methods=["POST"]),
    Route(PREFIX + "/{task_id}/listMapped", get_mapped_task_instances, methods=["GET"]),
    Route(PREFIX + "/{task_id}", get_task_instance, methods=["GET"]),
    Route(PREFIX + "/{task_id}/tries", get_task_instance_tries, methods=["GET"]),
    Route(PREFIX + "/{task_id}/tries/{task_try_number}", get_task_instance_try_details, methods=["GET"]),
    Route(PREFIX + "/{task_id}/{map_index}/tries", get_mapped_task_instance_tries, methods=["GET"]),
    Route(PREFIX + "/{task_id}/{map_index}/tries/{task_try_number}", get_mapped_task_instance_try_details, methods=["GET"]),
]

# Registered after every more specific .../{task_id}/<word> route (logs, xcomEntries...).
catch_all_routes = [
    Route(PREFIX + "/{task_id}/{map_index}", get_mapped_task_instance, methods=["GET"]),
]
