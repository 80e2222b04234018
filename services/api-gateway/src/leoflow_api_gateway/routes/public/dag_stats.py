"""GET /api/v2/dagStats: how many runs each DAG has in each state (Airflow's
routes/public/dag_stats.py) — every DAG that has runs, or those `dag_ids` names;
each with all four run states, zeros included, in Airflow's order."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_common.states import DagRunState
from leoflow_proto.scheduler.v1 import runs_pb2
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...datamodels.dag_stats import (
    DagStatsCollectionResponse,
    DagStatsResponse,
    DagStatsStateResponse,
)
from ...http.endpoint import endpoint, gateway
from ...http.params import parse_query
from ...http.responses import json_response
from ...lookups import Lookups

# Airflow's DagRunState, in its declaration order.
_STATES = ("queued", "running", "success", "failed")


class GetDagStatsQuery(BaseModel):
    dag_ids: list[str] = []


@endpoint(Capability.READ)
async def get_dag_stats(request: Request) -> Response:
    query = parse_query(request, GetDagStatsQuery)
    clients = gateway(request).clients
    answer = await clients.runs.CountDagRunsByState(runs_pb2.CountDagRunsByStateRequest(dag_ids=query.dag_ids))
    counts: dict[str, dict[str, int]] = {}
    for item in answer.counts:
        counts.setdefault(item.dag_id, {})[DagRunState.from_proto(item.state).value] = item.count
    names = await Lookups(clients).dag_display_names(counts)
    dags = [
        DagStatsResponse(
            dag_id=dag_id,
            dag_display_name=names[dag_id],
            stats=[DagStatsStateResponse(state=state, count=by_state.get(state, 0)) for state in _STATES],
        )
        for dag_id, by_state in counts.items()
    ]
    return json_response(DagStatsCollectionResponse(dags=dags, total_entries=len(dags)))


routes = [Route("/dagStats", get_dag_stats, methods=["GET"])]
