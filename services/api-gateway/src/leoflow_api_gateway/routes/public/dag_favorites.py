"""POST /api/v2/dags/{dag_id}/favorite and /unfavorite (Airflow's favorite_dag and
unfavorite_dag, in its routes/public/dags.py) over the scheduler's
DagFavoriteService: per user, any user who may read the DAG (Viewer), 204 on
success, 404 for an unknown DAG, 409 when already (un)marked."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_proto.scheduler.v1 import metadata_pb2, metadata_pb2_grpc
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...http.endpoint import endpoint, gateway


def _stub(request: Request) -> metadata_pb2_grpc.DagFavoriteServiceStub:
    return metadata_pb2_grpc.DagFavoriteServiceStub(gateway(request).clients.scheduler_channel)


@endpoint(Capability.READ)
async def favorite_dag(request: Request) -> Response:
    await _stub(request).FavoriteDag(metadata_pb2.FavoriteDagRequest(dag_id=request.path_params["dag_id"]))
    return Response(status_code=204)


@endpoint(Capability.READ)
async def unfavorite_dag(request: Request) -> Response:
    await _stub(request).UnfavoriteDag(metadata_pb2.UnfavoriteDagRequest(dag_id=request.path_params["dag_id"]))
    return Response(status_code=204)


routes = [
    Route("/dags/{dag_id}/favorite", favorite_dag, methods=["POST"]),
    Route("/dags/{dag_id}/unfavorite", unfavorite_dag, methods=["POST"]),
]
