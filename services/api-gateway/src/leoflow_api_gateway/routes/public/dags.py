"""/api/v2/dags: list, get, details, pause (Airflow's routes/public/dags.py)."""

from __future__ import annotations

import asyncio
from typing import Literal

from leoflow_common.auth import Capability
from leoflow_common.errors import NotFound
from leoflow_common.states import DagRunState as DagRunStateEnum
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import filters_pb2, models_pb2, registry_pb2, runs_pb2
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.dags import dag_details_response, dag_response
from ...datamodels.common import DagRunState
from ...datamodels.dags import DAGCollectionResponse, DAGPatchBody, DAGPatchBodyPartial
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError, from_pydantic, leoflow_error_of, or_404, validation_error
from ...http.filters import AnyOf, Pattern, Ranges, query_filters
from ...http.paging import Page
from ...http.params import parse_query, read_json
from ...http.responses import json_response
from ...signing import Signer
from ..common import PagedQuery, page_of


class GetDagsQuery(PagedQuery):
    tags: list[str] = []
    tags_match_mode: Literal["any", "all"] | None = None
    owners: list[str] = []
    dag_id_pattern: str | None = None
    dag_display_name_pattern: str | None = None
    exclude_stale: bool = True
    # Airflow 2's name of the same filter, still sent by older clients.
    only_active: bool | None = None
    paused: bool | None = None
    has_import_errors: bool | None = None
    last_dag_run_state: DagRunState | None = None
    is_favorite: bool | None = None
    has_asset_schedule: bool | None = None
    asset_dependency: str | None = None


# Filters the scheduler applies as FieldFilters (the dag_run_* ones on each DAG's
# latest run, as Airflow's).
DAG_FILTERS = (
    Pattern("dag_id_pattern", "dag_id"),
    Pattern("dag_id_prefix_pattern", "dag_id", prefix=True),
    Pattern("dag_display_name_pattern", "dag_display_name"),
    Pattern("dag_display_name_prefix_pattern", "dag_display_name", prefix=True),
    AnyOf("bundle_name", "bundle_name", single=True),
    AnyOf("bundle_version", "bundle_version", single=True),
    AnyOf("timetable_type", "timetable_type"),
    Ranges("dag_run_start_date"),
    Ranges("dag_run_end_date"),
)


def _dag_run_states(request: Request) -> list[str]:
    """?dag_run_state= values, checked as Airflow checks them ("none" matches no run state)."""
    values = request.query_params.getlist("dag_run_state")
    valid = {state.value for state in DagRunStateEnum}
    if any(value not in valid and value != "none" for value in values):
        raise validation_error(
            ("query", "dag_run_state"),
            f"Invalid value for state. Valid values are {', '.join(sorted(valid))}",
            input_=values,
        )
    return [value for value in values if value != "none"]


def _asks_for_assets(query: GetDagsQuery) -> bool:
    """Leoflow has no asset-scheduled DAGs and no asset dependencies: such a filter matches none."""
    return bool(query.has_asset_schedule) or bool(query.asset_dependency)


class _RequestFileTokens:
    """The file_token signer for one request, remembering what it signed: a page of
    DAGs mostly shares a few (bundle, file) pairs, and signing is most of the
    cost of turning a DAG into its response."""

    def __init__(self, signer: Signer):
        self._signer = signer
        self._signed: dict[tuple, str] = {}

    def dumps(self, payload: dict) -> str:
        key = tuple(sorted(payload.items()))
        if key not in self._signed:
            self._signed[key] = self._signer.dumps(payload)
        return self._signed[key]


def file_tokens(request: Request) -> Signer:
    signer = Signer(gateway(request).settings.security.jwt_secret.get_secret_value(), "file_token")
    return _RequestFileTokens(signer)  # type: ignore[return-value] - the one method callers use


def dag_not_found(dag_id: str) -> HTTPError:
    return HTTPError(404, f"The Dag with ID: `{dag_id}` was not found")


async def get_dag_or_404(request: Request, dag_id: str) -> models_pb2.Dag:
    call = gateway(request).clients.registry.GetDag(registry_pb2.GetDagRequest(dag_id=dag_id))
    return (await or_404(call, dag_not_found(dag_id))).dag


def list_dags_request(request: Request, query: GetDagsQuery) -> tuple[registry_pb2.ListDagsRequest, Page]:
    """The ListDags call for Airflow's DAG filters (shared with /ui/dags)."""
    pg = page_of(request, query)
    exclude_stale = query.only_active if query.only_active is not None else query.exclude_stale
    list_request = registry_pb2.ListDagsRequest(
        page=pg.request(),
        tags=query.tags,
        tags_match_mode=query.tags_match_mode or "any",
        owners=query.owners,
        only_active=exclude_stale,
        last_dag_run_state=[DagRunStateEnum(query.last_dag_run_state).to_proto()] if query.last_dag_run_state else [],
        filters=query_filters(request, DAG_FILTERS),
    )
    if request.query_params.getlist("dag_run_state"):
        # Known gap: "none" alone (DAGs without a run) matches nothing here.
        states = _dag_run_states(request)
        list_request.filters.add(field="dag_run_state", operator=filters_pb2.FILTER_OPERATOR_IN, strings=states)
    for name in ("paused", "has_import_errors", "is_favorite"):
        value = getattr(query, name)
        if value is not None:
            setattr(list_request, name, value)
    return list_request, pg


@endpoint(Capability.READ)
async def get_dags(request: Request) -> Response:
    """Get all DAGs (Airflow's filters; total_entries counts every match)."""
    query = parse_query(request, GetDagsQuery)
    list_request, pg = list_dags_request(request, query)
    if _asks_for_assets(query):
        return json_response(DAGCollectionResponse(dags=[], total_entries=0))
    answer = await gateway(request).clients.registry.ListDags(list_request)
    signer = file_tokens(request)
    dags = [dag_response(dag, signer) for dag in pg.take(list(answer.dags))]
    return json_response(DAGCollectionResponse(dags=dags, total_entries=answer.total_entries))


@endpoint(Capability.READ)
async def get_dag(request: Request) -> Response:
    dag = await get_dag_or_404(request, request.path_params["dag_id"])
    return json_response(dag_response(dag, file_tokens(request)))


@endpoint(Capability.READ)
async def get_dag_details(request: Request) -> Response:
    """The DAG plus what its latest compiled spec says (params, doc_md, timeouts...)."""
    dag_id = request.path_params["dag_id"]
    clients = gateway(request).clients
    dag = await get_dag_or_404(request, dag_id)
    active = runs_pb2.ListDagRunsRequest(
        dag_id=dag_id,
        page={"limit": 1},
        states=[DagRunStateEnum.QUEUED.to_proto(), DagRunStateEnum.RUNNING.to_proto()],
    )
    version_call = clients.registry.GetDagVersion(registry_pb2.GetDagVersionRequest(dag_id=dag_id, version_number=0))
    runs_answer, version_answer = await asyncio.gather(clients.runs.ListDagRuns(active), version_call, return_exceptions=True)
    if isinstance(runs_answer, BaseException):
        raise runs_answer
    spec = None
    if isinstance(version_answer, BaseException):
        # A DAG is listed once a version exists; a missing one is a race with deletion.
        if not isinstance(leoflow_error_of(version_answer), NotFound):
            raise version_answer
    elif version_answer.dag_version.HasField("spec"):
        spec = version_answer.dag_version.spec
    details = dag_details_response(dag, spec, active_runs_count=runs_answer.total_entries, file_tokens=file_tokens(request))
    return json_response(details)


class PatchDagQuery(BaseModel):
    update_mask: list[str] | None = None


@endpoint(Capability.EXECUTE)
async def patch_dag(request: Request) -> Response:
    """Pause or unpause a DAG (the only field Airflow lets the API change)."""
    dag_id = request.path_params["dag_id"]
    query = parse_query(request, PatchDagQuery)
    data = await read_json(request)
    try:
        if query.update_mask:
            if query.update_mask != ["is_paused"]:
                raise HTTPError(400, "Only `is_paused` field can be updated through the REST API")
            is_paused = DAGPatchBodyPartial.model_validate(data).is_paused
        else:
            is_paused = DAGPatchBody.model_validate(data).is_paused
    except ValidationError as exc:
        raise from_pydantic(exc, ("body",)) from None
    update = registry_pb2.UpdateDagRequest(dag_id=dag_id)
    if is_paused is not None:
        update.is_paused = is_paused
    answer = await or_404(gateway(request).clients.registry.UpdateDag(update), dag_not_found(dag_id))
    return json_response(dag_response(answer.dag, file_tokens(request)))


class PatchDagsQuery(PagedQuery):
    update_mask: list[str] | None = None
    tags: list[str] = []
    tags_match_mode: Literal["any", "all"] | None = None
    owners: list[str] = []
    exclude_stale: bool = True
    paused: bool | None = None


_PATCH_DAGS_FILTERS = (
    Pattern("dag_id_pattern", "dag_id"),
    Pattern("dag_id_prefix_pattern", "dag_id", prefix=True),
)
# Pausing DAGs a page at a time: how many UpdateDag calls run at once.
_UPDATE_CONCURRENCY = 16


@endpoint(Capability.EXECUTE)
async def patch_dags(request: Request) -> Response:
    """Pause or unpause every DAG the filters match (Airflow's PATCH /dags); the
    answer is the requested page of them. As Airflow: without dag_id_pattern or
    dag_id_prefix_pattern nothing matches ("~" matches every DAG)."""
    query = parse_query(request, PatchDagsQuery)
    data = await read_json(request)
    try:
        if query.update_mask:
            if query.update_mask != ["is_paused"]:
                raise HTTPError(400, "Only `is_paused` field can be updated through the REST API")
            is_paused = DAGPatchBodyPartial.model_validate(data).is_paused
        else:
            is_paused = DAGPatchBody.model_validate(data).is_paused
    except ValidationError as exc:
        raise from_pydantic(exc, ("body",)) from None
    pg = page_of(request, query)
    filters = query_filters(request, _PATCH_DAGS_FILTERS)
    if not filters:
        return json_response(DAGCollectionResponse(dags=[], total_entries=0))
    base = registry_pb2.ListDagsRequest(
        tags=query.tags,
        tags_match_mode=query.tags_match_mode or "any",
        owners=query.owners,
        only_active=query.exclude_stale,
        filters=filters,
    )
    if query.paused is not None:
        base.paused = query.paused
    registry = gateway(request).clients.registry
    # Every matching DAG first (not only the page), then the change.
    matching: list[str] = []
    while True:
        chunk = registry_pb2.ListDagsRequest()
        chunk.CopyFrom(base)
        chunk.page.CopyFrom(keys_pb2.PageRequest(limit=1000, offset=len(matching), order_by=["dag_id"]))
        answer = await registry.ListDags(chunk)
        matching.extend(dag.dag_id for dag in answer.dags)
        if not answer.dags or len(matching) >= answer.total_entries:
            break
    page_request = registry_pb2.ListDagsRequest()
    page_request.CopyFrom(base)
    page_request.page.CopyFrom(pg.request())
    page = pg.take(list((await registry.ListDags(page_request)).dags))
    if is_paused is not None:
        limit = asyncio.Semaphore(_UPDATE_CONCURRENCY)

        async def update(dag_id: str) -> None:
            async with limit:
                await registry.UpdateDag(registry_pb2.UpdateDagRequest(dag_id=dag_id, is_paused=is_paused))

        await asyncio.gather(*(update(dag_id) for dag_id in matching))
        for dag in page:
            dag.is_paused = is_paused
    signer = file_tokens(request)
    return json_response(DAGCollectionResponse(dags=[dag_response(dag, signer) for dag in page], total_entries=len(matching)))


@endpoint(Capability.EXECUTE)
async def delete_dag(request: Request) -> Response:
    """Delete a DAG and its history; Airflow answers 204 No Content."""
    dag_id = request.path_params["dag_id"]
    call = gateway(request).clients.registry.DeleteDag(registry_pb2.DeleteDagRequest(dag_id=dag_id))
    await or_404(call, dag_not_found(dag_id))
    return Response(status_code=204)


routes = [
    Route("/dags", get_dags, methods=["GET"]),
    Route("/dags", patch_dags, methods=["PATCH"]),
    Route("/dags/{dag_id}", get_dag, methods=["GET"]),
    Route("/dags/{dag_id}", patch_dag, methods=["PATCH"]),
    Route("/dags/{dag_id}", delete_dag, methods=["DELETE"]),
    Route("/dags/{dag_id}/details", get_dag_details, methods=["GET"]),
]
