"""GET /api/v2/dagSources/{dag_id}: the DAG file's source of a version (the UI's
Code tab), as JSON or text/plain (Airflow's routes/public/dag_sources.py)."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_proto.scheduler.v1 import registry_pb2
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ...convert.dags import display_name
from ...datamodels.common import INT32_MAX
from ...datamodels.dag_sources import DAGSourceResponse
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError, or_404
from ...http.params import parse_query
from ...http.responses import json_response
from .dag_versions import version_not_found
from .dags import get_dag_or_404


class GetDagSourceQuery(BaseModel):
    version_number: int | None = Field(default=None, ge=1, le=INT32_MAX)


def _accept(request: Request) -> str:
    accepted = [part.split(";")[0].strip() for part in request.headers.get("accept", "*/*").split(",")]
    for media_type in accepted:
        if media_type in ("application/json", "text/plain"):
            return media_type
        if media_type in ("*/*", "application/*", "text/*", ""):
            return "application/json" if media_type != "text/*" else "text/plain"
    raise HTTPError(406, "Only application/json or text/plain is supported")


@endpoint(Capability.READ)
async def get_dag_source(request: Request) -> Response:
    dag_id = request.path_params["dag_id"]
    query = parse_query(request, GetDagSourceQuery)
    media_type = _accept(request)
    dag = await get_dag_or_404(request, dag_id)
    number = query.version_number or 0  # 0: the latest version
    call = gateway(request).clients.registry.GetDagVersion(registry_pb2.GetDagVersionRequest(dag_id=dag_id, version_number=number))
    version = (await or_404(call, version_not_found(dag_id, number))).dag_version
    content = version.spec.source.content or None
    if media_type == "text/plain":
        return PlainTextResponse(content or "")
    return json_response(
        DAGSourceResponse(content=content, dag_id=dag_id, version_number=version.version_number, dag_display_name=display_name(dag))
    )


routes = [Route("/dagSources/{dag_id}", get_dag_source, methods=["GET"])]
