"""The grid view (Airflow's routes/ui/grid.py): its rows (/ui/grid/structure), its
columns (/ui/grid/runs) and its cells (/ui/grid/ti_summaries, NDJSON, one line per
run). Without these the DAG page shows no grid."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

from leoflow_common.auth import Capability
from leoflow_common.states import DagRunState as DagRunStateEnum
from leoflow_common.states import DagRunType as DagRunTypeEnum
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import models_pb2, runs_pb2, task_instances_pb2
from pydantic import Field
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.common import seconds_between, to_timestamp, ts
from ...convert.dag_run import dag_run_response, run_type
from ...convert.grid import ti_summaries
from ...convert.structure import dag_tree, grid_nodes, merge_grid_nodes, subset_task_ids
from ...datamodels.common import DagRunState, DagRunType
from ...datamodels.ui.grid import GridRunsResponse
from ...http.endpoint import endpoint, gateway
from ...http.params import parse_query, reject_unsupported
from ...http.responses import dump, json_response
from ..common import PagedQuery, page_of
from ..dag_specs import spec_of, specs_of
from ..public.dags import get_dag_or_404

NDJSON = "application/x-ndjson"
_TI_PAGE = 1000


class GridRunsQuery(PagedQuery):
    run_after_gte: datetime | None = None
    run_after_lte: datetime | None = None
    run_type: list[DagRunType] = []
    state: list[DagRunState] = []


class GridStructureQuery(GridRunsQuery):
    include_upstream: bool = False
    include_downstream: bool = False
    depth: int | None = Field(default=None, ge=0)
    root: str | None = None


_UNSUPPORTED_GRID_FILTERS = frozenset({"run_after_gt", "run_after_lt", "triggering_user", "triggering_user_prefix"})


async def _runs(request: Request, dag_id: str, query: GridRunsQuery) -> list[models_pb2.DagRun]:
    pg = page_of(request, query)
    order_by = list(query.order_by) or ["-run_after"]
    list_request = runs_pb2.ListDagRunsRequest(
        dag_id=dag_id,
        page=keys_pb2.PageRequest(limit=max(pg.limit, 1), offset=pg.offset, order_by=order_by),
        states=[DagRunStateEnum(s).to_proto() for s in query.state],
        run_types=[DagRunTypeEnum(t).to_proto() for t in query.run_type if t in {e.value for e in DagRunTypeEnum}],
    )
    for op in ("gte", "lte"):
        value = getattr(query, f"run_after_{op}")
        if value is not None:
            getattr(list_request, f"run_after_{op}").CopyFrom(to_timestamp(value))
    answer = await gateway(request).clients.runs.ListDagRuns(list_request)
    return pg.take(list(answer.dag_runs))


@endpoint(Capability.READ)
async def get_dag_structure(request: Request) -> Response:
    """The grid's rows: the latest version's tree, plus nodes only older versions of
    the shown runs had."""
    reject_unsupported(request, _UNSUPPORTED_GRID_FILTERS)
    dag_id = request.path_params["dag_id"]
    query = parse_query(request, GridStructureQuery)
    (latest_number, latest), runs = await asyncio.gather(spec_of(request, dag_id), _runs(request, dag_id, query))
    older = {r.dag_version.version_number for r in runs if r.HasField("dag_version")} - {latest_number}
    specs = [latest, *(await specs_of(request, dag_id, older)).values()]
    nodes = []
    for spec in specs:
        task_ids = None
        if query.root:
            task_ids = subset_task_ids(
                spec,
                query.root,
                include_upstream=query.include_upstream,
                include_downstream=query.include_downstream,
                depth=query.depth,
            )
        merge_grid_nodes(nodes, grid_nodes(dag_tree(spec, task_ids)))
    return json_response(nodes, exclude_none=False)


def grid_run(run: models_pb2.DagRun, dag_display_name: str) -> GridRunsResponse:
    start, end = ts(run, "start_date"), ts(run, "end_date")
    # As Airflow: a run that has not ended is measured up to now; one not started is 0.
    duration = seconds_between(start, end or datetime.now(UTC)) if start else 0.0
    full = dag_run_response(run, dag_display_name)
    return GridRunsResponse(
        dag_id=run.dag_id,
        run_id=run.run_id,
        queued_at=full.queued_at,
        start_date=start,
        end_date=end,
        run_after=full.run_after,
        state=full.state,
        run_type=run_type(run.run_type),
        dag_versions=full.dag_versions,
        has_missed_deadline=False,
        duration=duration,
    )


@endpoint(Capability.READ)
async def get_grid_runs(request: Request) -> Response:
    """The grid's columns: the DAG's runs, newest first unless asked otherwise."""
    reject_unsupported(request, _UNSUPPORTED_GRID_FILTERS)
    dag_id = request.path_params["dag_id"]
    query = parse_query(request, GridRunsQuery)
    dag, runs = await asyncio.gather(get_dag_or_404(request, dag_id), _runs(request, dag_id, query))
    name = dag.display_name or dag_id
    return json_response([grid_run(run, name) for run in runs])


class TISummariesQuery(PagedQuery):
    run_ids: list[str] = []


async def _task_instances_by_run(request: Request, dag_id: str, run_ids: list[str]) -> dict[str, list[models_pb2.TaskInstance]]:
    """Every task instance of the runs, asked in one paged call for all of them."""
    clients = gateway(request).clients
    found: list[models_pb2.TaskInstance] = []
    while True:
        page = keys_pb2.PageRequest(limit=_TI_PAGE, offset=len(found), order_by=["run_id", "task_id", "map_index"])
        answer = await clients.task_instances.ListTaskInstances(
            task_instances_pb2.ListTaskInstancesRequest(dag_id=dag_id, run_ids=run_ids, page=page)
        )
        found.extend(answer.task_instances)
        if not answer.task_instances or len(found) >= answer.total_entries:
            break
    by_run: dict[str, list[models_pb2.TaskInstance]] = {run_id: [] for run_id in run_ids}
    for ti in found:
        by_run.setdefault(ti.run_id, []).append(ti)
    return by_run


async def _runs_by_id(request: Request, dag_id: str, run_ids: list[str]) -> dict[str, models_pb2.DagRun]:
    answer = await gateway(request).clients.runs.ListDagRuns(
        runs_pb2.ListDagRunsRequest(dag_id=dag_id, run_ids=run_ids, page=keys_pb2.PageRequest(limit=len(run_ids)))
    )
    return {run.run_id: run for run in answer.dag_runs}


@endpoint(Capability.READ)
async def get_grid_ti_summaries_stream(request: Request) -> Response:
    """The grid's cells, one NDJSON line per run (runs without task instances yet
    have no line, as in Airflow). The UI fetches this without axios: cookie auth.

    Three calls whatever the number of runs (the UI asks for ten at a time, every
    few seconds while one is active): the DAG, the runs, their task instances."""
    dag_id = request.path_params["dag_id"]
    query = parse_query(request, TISummariesQuery)
    run_ids = list(dict.fromkeys(query.run_ids))
    if not run_ids:
        await get_dag_or_404(request, dag_id)
        return Response("", media_type=NDJSON)
    _, runs, tis = await asyncio.gather(
        get_dag_or_404(request, dag_id), _runs_by_id(request, dag_id, run_ids), _task_instances_by_run(request, dag_id, run_ids)
    )
    versions = {run_id: run.dag_version.version_number for run_id, run in runs.items()}
    specs = await specs_of(request, dag_id, versions.values())
    trees = {number: dag_tree(spec) for number, spec in specs.items()}
    lines = []
    for run_id in run_ids:
        if run_id not in runs:
            continue
        summary = ti_summaries(dag_id, run_id, trees[versions[run_id]], tis.get(run_id, []))
        if summary is not None:
            lines.append(json.dumps(dump(summary), separators=(",", ":")) + "\n")
    return Response("".join(lines), media_type=NDJSON)


routes = [
    Route("/grid/structure/{dag_id}", get_dag_structure, methods=["GET"]),
    Route("/grid/runs/{dag_id}", get_grid_runs, methods=["GET"]),
    Route("/grid/ti_summaries/{dag_id}", get_grid_ti_summaries_stream, methods=["GET"]),
]
