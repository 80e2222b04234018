"""/api/v2/dags/{dag_id}/dagRuns: trigger, list ("~" for every DAG), get, mark
state or note, delete (Airflow's routes/public/dag_run.py)."""

from __future__ import annotations

import asyncio
from typing import Literal

from google.protobuf import struct_pb2
from leoflow_common.auth import Capability
from leoflow_common.states import DagRunState as DagRunStateEnum
from leoflow_common.states import DagRunType as DagRunTypeEnum
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import filters_pb2, models_pb2, registry_pb2, runs_pb2
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.common import to_timestamp
from ...convert.dag_run import dag_run_response
from ...datamodels.common import DagRunState, DagRunType
from ...datamodels.dag_run import (
    DAGRunCollectionResponse,
    DAGRunPatchBody,
    DAGRunsBatchBody,
    TriggerDAGRunPostBody,
)
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError, or_404, validation_error
from ...http.filters import AnyOf, Pattern, Ranges, body_ranges, query_filters
from ...http.paging import Page
from ...http.params import parse_body, parse_query
from ...http.responses import json_response
from ...lookups import Lookups
from ..common import PagedQuery, page_of, wildcard
from .dags import dag_not_found


class GetDagRunsQuery(PagedQuery):
    cursor: str | None = None
    # Airflow takes "none" for runs without a state; a Leoflow run always has one.
    # One Literal (not a union) so a bad value is one validation error at ["query", "state", i].
    state: list[Literal[DagRunState, "none"]] = []
    run_type: list[DagRunType] = []


# Filters the scheduler applies as FieldFilters (Airflow's semantics: a run not
# started or not ended yet counts as starting or ending now).
RUN_FILTERS = (
    *(Ranges(name) for name in ("run_after", "logical_date", "start_date", "end_date", "updated_at")),
    Ranges("duration", kind="number"),
    Pattern("run_id_pattern", "run_id"),
    Pattern("run_id_prefix_pattern", "run_id", prefix=True),
    Pattern("triggering_user_name_pattern", "triggering_user_name"),
    Pattern("triggering_user_name_prefix_pattern", "triggering_user_name", prefix=True),
    Pattern("dag_id_pattern", "dag_id"),
    Pattern("dag_id_prefix_pattern", "dag_id", prefix=True),
    AnyOf("dag_version", "dag_version", kind="int"),
    AnyOf("bundle_version", "bundle_version", single=True),
)
# Leoflow has no partitioned runs and no asset-triggered ones: these match no run.
_NOTHING_MATCHES = ("partition_key_pattern", "partition_key_prefix_pattern", "consuming_asset_pattern")


def run_filters(request: Request) -> list[filters_pb2.FieldFilter]:
    filters = query_filters(request, RUN_FILTERS)
    if conf := request.query_params.getlist("conf_contains"):
        filters.append(filters_pb2.FieldFilter(field="conf", operator=filters_pb2.FILTER_OPERATOR_CONTAINS, strings=[conf[-1]]))
    return filters


# The run types a Leoflow run can have (no asset materialization runs exist).
_KNOWN_RUN_TYPES = {t.value for t in DagRunTypeEnum} - {DagRunTypeEnum.OPERATOR_TRIGGERED.value}


def run_not_found(dag_id: str, run_id: str) -> HTTPError:
    return HTTPError(404, f"The DagRun with dag_id: `{dag_id}` and run_id: `{run_id}` was not found")


async def ensure_dag_exists(request: Request, dag_id: str) -> None:
    """Airflow answers 404 for a list under a DAG that does not exist ("~" aside)."""
    if dag_id == "~":
        return
    await or_404(gateway(request).clients.registry.GetDag(registry_pb2.GetDagRequest(dag_id=dag_id)), dag_not_found(dag_id))


@endpoint(Capability.READ)
async def get_dag_runs(request: Request) -> Response:
    """Get DagRuns of one DAG, or of every DAG with "~"."""
    dag_id = request.path_params["dag_id"]
    query = parse_query(request, GetDagRunsQuery)
    pg = page_of(request, query, cursor=query.cursor)
    filters = run_filters(request)
    run_types = [t for t in query.run_type if t in _KNOWN_RUN_TYPES]
    only_stateless = bool(query.state) and all(state == "none" for state in query.state)
    if (query.run_type and not run_types) or only_stateless or any(request.query_params.get(name) for name in _NOTHING_MATCHES):
        # Only run types Leoflow never creates were asked for: nothing can match.
        await ensure_dag_exists(request, dag_id)
        return json_response(DAGRunCollectionResponse(dag_runs=[], **pg.answer(0, 0)))
    list_request = runs_pb2.ListDagRunsRequest(
        dag_id=wildcard(dag_id),
        page=pg.request(),
        states=[DagRunStateEnum(s).to_proto() for s in query.state if s != "none"],
        run_types=[DagRunTypeEnum(t).to_proto() for t in run_types],
        filters=filters,
    )
    _, answer = await asyncio.gather(
        ensure_dag_exists(request, dag_id), gateway(request).clients.runs.ListDagRuns(list_request)
    )
    runs = pg.take(list(answer.dag_runs))
    names = await Lookups(gateway(request).clients).dag_display_names(run.dag_id for run in runs)
    items = [dag_run_response(run, names[run.dag_id]) for run in runs]
    return json_response(DAGRunCollectionResponse(dag_runs=items, **pg.answer(len(items), answer.total_entries)))


@endpoint(Capability.READ)
async def get_dag_run(request: Request) -> Response:
    dag_id, run_id = request.path_params["dag_id"], request.path_params["dag_run_id"]
    key = keys_pb2.DagRunKey(dag_id=dag_id, run_id=run_id)
    call = gateway(request).clients.runs.GetDagRun(runs_pb2.GetDagRunRequest(key=key))
    answer = await or_404(call, run_not_found(dag_id, run_id))
    return json_response(await _with_dag_name(request, answer.dag_run))


async def _with_dag_name(request: Request, run: models_pb2.DagRun):
    names = await Lookups(gateway(request).clients).dag_display_names([run.dag_id])
    return dag_run_response(run, names[run.dag_id])


@endpoint(Capability.EXECUTE)
async def trigger_dag_run(request: Request) -> Response:
    """Trigger a DAG: a queued, manual DagRun (Airflow 3.2.2 answers 200)."""
    dag_id = request.path_params["dag_id"]
    body = await parse_body(request, TriggerDAGRunPostBody)
    if body.partition_key is not None:
        raise HTTPError(400, "Leoflow has no partitioned Dags: partition_key must be null")
    trigger = runs_pb2.TriggerDagRunRequest(
        dag_id=dag_id,
        run_id=body.dag_run_id or "",
        note=body.note or "",
        # As Airflow: a request from a browser page (it sends a Referer) is the UI's.
        triggered_by="ui" if request.headers.get("referer") else "rest_api",
    )
    if body.conf:
        trigger.conf.update(body.conf)
    elif body.conf is not None:
        trigger.conf.CopyFrom(struct_pb2.Struct())
    for name in ("logical_date", "data_interval_start", "data_interval_end", "run_after"):
        value = getattr(body, name)
        if value is not None:
            getattr(trigger, name).CopyFrom(to_timestamp(value))
    answer = await gateway(request).clients.runs.TriggerDagRun(trigger)
    return json_response(await _with_dag_name(request, answer.dag_run))


class PatchDagRunQuery(BaseModel):
    update_mask: list[str] | None = None


@endpoint(Capability.EXECUTE)
async def patch_dag_run(request: Request) -> Response:
    """Mark a run queued / success / failed, or set its note."""
    dag_id, run_id = request.path_params["dag_id"], request.path_params["dag_run_id"]
    query = parse_query(request, PatchDagRunQuery)
    body = await parse_body(request, DAGRunPatchBody)
    fields = set(query.update_mask) if query.update_mask else body.model_fields_set
    unknown = fields - {"state", "note"}
    if unknown:
        raise HTTPError(400, f"Invalid fields to update: {sorted(unknown)}")
    update = runs_pb2.UpdateDagRunRequest(key=keys_pb2.DagRunKey(dag_id=dag_id, run_id=run_id))
    if "state" in fields:
        if body.state is None:
            raise HTTPError(400, "state must be one of queued, success, failed")
        update.state = DagRunStateEnum(body.state).to_proto()
    if "note" in fields:
        update.note = body.note or ""
    answer = await or_404(gateway(request).clients.runs.UpdateDagRun(update), run_not_found(dag_id, run_id))
    return json_response(await _with_dag_name(request, answer.dag_run))


@endpoint(Capability.EXECUTE)
async def delete_dag_run(request: Request) -> Response:
    """Delete a run and its task instances; Airflow answers 204."""
    dag_id, run_id = request.path_params["dag_id"], request.path_params["dag_run_id"]
    delete = runs_pb2.DeleteDagRunRequest(key=keys_pb2.DagRunKey(dag_id=dag_id, run_id=run_id))
    await or_404(gateway(request).clients.runs.DeleteDagRun(delete), run_not_found(dag_id, run_id))
    return Response(status_code=204)


BATCH_RANGES = (*(Ranges(name) for name in ("run_after", "logical_date", "start_date", "end_date")), Ranges("duration", kind="number"))


def batch_page(request: Request, offset: int, limit: int, order_by: str | None) -> Page:
    """A batch body's paging (Airflow's page_offset, page_limit, one order_by)."""
    maximum = gateway(request).settings.maximum_page_limit
    return Page(limit=min(limit, maximum), offset=offset, order_by=(order_by,) if order_by else (), cursor_mode=False)


def only_tilde(request: Request, *names: str) -> None:
    """Airflow's batch endpoints take "~" only in these path segments (422 otherwise)."""
    for name in names:
        value = request.path_params[name]
        if value != "~":
            raise validation_error(("path", name), "Input should be '~'", type_="literal_error", input_=value)


@endpoint(Capability.READ)
async def get_list_dag_runs_batch(request: Request) -> Response:
    """POST /dags/~/dagRuns/list: the run list with its filters in the body."""
    only_tilde(request, "dag_id")
    body = await parse_body(request, DAGRunsBatchBody)
    pg = batch_page(request, body.page_offset, body.page_limit, body.order_by)
    if body.dag_ids is not None and not body.dag_ids:
        return json_response(DAGRunCollectionResponse(dag_runs=[], total_entries=0))
    filters = body_ranges(body, BATCH_RANGES)
    if body.conf_contains is not None:
        filters.append(filters_pb2.FieldFilter(field="conf", operator=filters_pb2.FILTER_OPERATOR_CONTAINS, strings=[body.conf_contains]))
    list_request = runs_pb2.ListDagRunsRequest(
        dag_ids=body.dag_ids or [],
        page=pg.request(),
        # A run always has a state: a null in `states` matches none.
        states=[DagRunStateEnum(s).to_proto() for s in body.states or () if s is not None],
        filters=filters,
    )
    clients = gateway(request).clients
    answer = await clients.runs.ListDagRuns(list_request)
    runs = pg.take(list(answer.dag_runs))
    names = await Lookups(clients).dag_display_names(run.dag_id for run in runs)
    items = [dag_run_response(run, names[run.dag_id]) for run in runs]
    return json_response(DAGRunCollectionResponse(dag_runs=items, total_entries=answer.total_entries))


routes = [
    Route("/dags/{dag_id}/dagRuns", get_dag_runs, methods=["GET"]),
    Route("/dags/{dag_id}/dagRuns/list", get_list_dag_runs_batch, methods=["POST"]),
    Route("/dags/{dag_id}/dagRuns", trigger_dag_run, methods=["POST"]),
    Route("/dags/{dag_id}/dagRuns/{dag_run_id}", get_dag_run, methods=["GET"]),
    Route("/dags/{dag_id}/dagRuns/{dag_run_id}", patch_dag_run, methods=["PATCH"]),
    Route("/dags/{dag_id}/dagRuns/{dag_run_id}", delete_dag_run, methods=["DELETE"]),
]
