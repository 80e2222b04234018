"""/ui/partitioned_dag_runs and /ui/pending_partitioned_dag_run/{dag_id}/{key}
(Airflow's routes/ui/partitioned_dag_runs.py): runs of partitioned, asset-driven
timetables waiting for their partitions. Leoflow has no partitioned timetables, so
no such run exists: the list is empty and any one asked for is not found."""

from __future__ import annotations

from leoflow_common.auth import Capability
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...http.endpoint import endpoint
from ...http.errors import HTTPError
from ...http.params import parse_query


class PartitionedDagRunsQuery(BaseModel):
    dag_id: str | None = None
    has_created_dag_run_id: bool | None = None


@endpoint(Capability.READ)
async def get_partitioned_dag_runs(request: Request) -> Response:
    parse_query(request, PartitionedDagRunsQuery)
    return JSONResponse({"partitioned_dag_runs": [], "total": 0, "asset_expressions": None})


@endpoint(Capability.READ)
async def get_pending_partitioned_dag_run(request: Request) -> Response:
    dag_id, key = request.path_params["dag_id"], request.path_params["partition_key"]
    raise HTTPError(404, f"No PartitionedDagRun for dag={dag_id} partition={key}")


routes = [
    Route("/partitioned_dag_runs", get_partitioned_dag_runs, methods=["GET"]),
    Route("/pending_partitioned_dag_run/{dag_id}/{partition_key}", get_pending_partitioned_dag_run, methods=["GET"]),
]
