"""DAG versions: Airflow's GET /api/v2/dags/{dag_id}/dagVersions[/{version_number}]
(routes/public/dag_versions.py there), and Leoflow's POST
/api/v2/dags/{dag_id}/versions, which registers a compiled DAG (what `leoflow push`
calls) — its body is dag.json, the DagSpec proto's JSON mapping."""

from __future__ import annotations

import re

from google.protobuf import json_format
from leoflow_common.auth import Capability
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.scheduler.v1 import registry_pb2
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.dag_versions import dag_version_response
from ...convert.dags import display_name
from ...datamodels.dag_versions import DAGVersionCollectionResponse, DagVersionRegistrationResponse
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError, RequestValidationError, or_404, validation_error
from ...http.filters import AnyOf, query_filters
from ...http.params import parse_query, path_int, read_json
from ...http.responses import json_response
from ...lookups import Lookups
from ..common import PagedQuery, page_of
from .dags import get_dag_or_404

# json_format says where it failed in one of these forms:
#   ... no field named "foo" at "DagSpec.tasks[0]".
#   ... Invalid enum value NOPE for enum type ... at DagSpec.schedule.kind.
#   Failed to parse tasks field: Failed to parse retries field: ...
_UNKNOWN_FIELD = re.compile(r'no field named "(?P<name>[^"]+)" at "(?P<path>[^"]+)"')
_AT_PATH = re.compile(r" at (?P<path>DagSpec[\w.\[\]]*?)\.*$")
_FAILED_FIELD = re.compile(r"Failed to parse (\w+) field")
_PATH_PART = re.compile(r"(\w+)(?:\[(\d+)\])?")


def _path_loc(path: str) -> list[str | int]:
    loc: list[str | int] = []
    for name, index in _PATH_PART.findall(path)[1:]:  # [0] is the message type, DagSpec
        loc.append(name)
        if index:
            loc.append(int(index))
    return loc


def _loc_of(message: str) -> list[str | int]:
    """Where in dag.json a json_format error points, as a 422 `loc`."""
    first_line = message.splitlines()[0] if message else ""
    if match := _UNKNOWN_FIELD.search(first_line):
        return ["body", *_path_loc(match["path"]), match["name"]]
    if match := _AT_PATH.search(first_line):
        return ["body", *_path_loc(match["path"])]
    return ["body", *_FAILED_FIELD.findall(first_line)]


def parse_dag_spec(data: object) -> dag_pb2.DagSpec:
    """dag.json -> DagSpec; unknown fields and wrong types are 422 naming the field."""
    if not isinstance(data, dict):
        raise validation_error(("body",), "dag.json must be a JSON object (a DagSpec)", type_="model_type", input_=data)
    spec = dag_pb2.DagSpec()
    try:
        json_format.ParseDict(data, spec, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise RequestValidationError(
            [{"type": "value_error", "loc": _loc_of(str(exc)), "msg": f"Invalid dag.json: {str(exc).splitlines()[0]}", "input": None}]
        ) from None
    return spec


@endpoint(Capability.EXECUTE)
async def register_dag_version(request: Request) -> Response:
    """201 with the new version, or 200 with the existing one when the canonical spec
    was already registered (idempotent)."""
    dag_id = request.path_params["dag_id"]
    spec = parse_dag_spec(await read_json(request))
    if spec.dag_id != dag_id:
        raise validation_error(
            ("body", "dag_id"),
            f"dag_id {spec.dag_id!r} in dag.json does not match {dag_id!r} in the URL",
            input_=spec.dag_id,
        )
    answer = await gateway(request).clients.registry.RegisterDagVersion(registry_pb2.RegisterDagVersionRequest(spec=spec))
    version = dag_version_response(answer.dag_version, spec.display_name or dag_id)
    body = DagVersionRegistrationResponse(**version.model_dump(), created=answer.created)
    return json_response(body, status_code=201 if answer.created else 200)


routes = [Route("/dags/{dag_id}/versions", register_dag_version, methods=["POST"])]


class GetDagVersionsQuery(PagedQuery):
    pass


VERSION_FILTERS = (
    AnyOf("version_number", "version_number", kind="int", single=True),
    AnyOf("bundle_name", "bundle_name", single=True),
    AnyOf("bundle_version", "bundle_version", single=True),
)


def version_not_found(dag_id: str, version_number: int) -> HTTPError:
    return HTTPError(404, f"The DagVersion with dag_id: `{dag_id}` and version_number: `{version_number}` was not found")


@endpoint(Capability.READ)
async def get_dag_versions(request: Request) -> Response:
    """Versions of a DAG, or of every DAG with "~"."""
    dag_id = request.path_params["dag_id"]
    pg = page_of(request, parse_query(request, GetDagVersionsQuery))
    clients = gateway(request).clients
    if dag_id != "~":
        await get_dag_or_404(request, dag_id)
    call = registry_pb2.ListDagVersionsRequest(
        dag_id=dag_id, page=pg.request(), filters=query_filters(request, VERSION_FILTERS)
    )
    answer = await clients.registry.ListDagVersions(call)
    listed = pg.take(list(answer.dag_versions))
    names = await Lookups(clients).dag_display_names(v.dag_id for v in listed)
    versions = [dag_version_response(v, names[v.dag_id]) for v in listed]
    return json_response(DAGVersionCollectionResponse(dag_versions=versions, total_entries=answer.total_entries))


@endpoint(Capability.READ)
async def get_dag_version(request: Request) -> Response:
    dag_id = request.path_params["dag_id"]
    number = path_int(request, "version_number", minimum=1)
    dag = await get_dag_or_404(request, dag_id)
    call = gateway(request).clients.registry.GetDagVersion(
        registry_pb2.GetDagVersionRequest(dag_id=dag_id, version_number=number)
    )
    answer = await or_404(call, version_not_found(dag_id, number))
    return json_response(dag_version_response(answer.dag_version, display_name(dag)))


routes += [
    Route("/dags/{dag_id}/dagVersions", get_dag_versions, methods=["GET"]),
    Route("/dags/{dag_id}/dagVersions/{version_number}", get_dag_version, methods=["GET"]),
]
