"""/api/v2/variables: list, get, create, patch, delete, bulk (Airflow's
routes/public/variables.py) over the scheduler's VariableService. Variables are
Op's, reads included (Airflow's simple auth manager)."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_proto.scheduler.v1 import metadata_pb2, metadata_pb2_grpc
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.bulk import ACTION_KINDS, bulk_response, on_conflict, update_fields
from ...convert.variables import variable_body, variable_response
from ...datamodels.bulk import BulkBody
from ...datamodels.variables import VariableBody, VariableCollectionResponse
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError
from ...http.params import parse_query
from ...http.responses import json_response
from ..common import PagedQuery, page_of
from .metadata_common import check_order_by, parse_body_without_nul


def _stub(request: Request) -> metadata_pb2_grpc.VariableServiceStub:
    return metadata_pb2_grpc.VariableServiceStub(gateway(request).clients.scheduler_channel)


class GetVariablesQuery(PagedQuery):
    variable_key_pattern: str | None = None
    variable_key_prefix_pattern: str | None = None


class UpdateMaskQuery(BaseModel):
    update_mask: list[str] | None = None


@endpoint(Capability.OPERATE)
async def get_variables(request: Request) -> Response:
    query = parse_query(request, GetVariablesQuery)
    check_order_by(query.order_by)
    pg = page_of(request, query)
    answer = await _stub(request).ListVariables(
        metadata_pb2.ListVariablesRequest(
            page=pg.request(),
            key_pattern=query.variable_key_pattern or "",
            key_prefix_pattern=query.variable_key_prefix_pattern or "",
        )
    )
    variables = [variable_response(v) for v in pg.take(list(answer.variables))]
    return json_response(VariableCollectionResponse(variables=variables, total_entries=answer.total_entries))


@endpoint(Capability.OPERATE)
async def get_variable(request: Request) -> Response:
    key = request.path_params["variable_key"]
    answer = await _stub(request).GetVariable(metadata_pb2.GetVariableRequest(key=key))
    return json_response(variable_response(answer.variable))


@endpoint(Capability.OPERATE)
async def post_variable(request: Request) -> Response:
    body = await parse_body_without_nul(request, VariableBody)
    answer = await _stub(request).CreateVariable(metadata_pb2.CreateVariableRequest(variable=variable_body(body)))
    return json_response(variable_response(answer.variable), status_code=201)


@endpoint(Capability.OPERATE)
async def patch_variable(request: Request) -> Response:
    """Update the fields the body names (narrowed by update_mask); the key never changes."""
    key = request.path_params["variable_key"]
    mask = parse_query(request, UpdateMaskQuery).update_mask
    body = await parse_body_without_nul(request, VariableBody)
    if body.key != key:
        raise HTTPError(400, "Invalid body, key from request body doesn't match uri parameter")
    if mask and "key" in mask:
        raise HTTPError(400, "Update not allowed: the following fields are immutable and cannot be modified: {'key'}")
    fields = update_fields(set(body.model_fields_set), mask, "key")
    stub = _stub(request)
    if not fields:  # nothing to change: Airflow answers the variable as it is
        answer = await stub.GetVariable(metadata_pb2.GetVariableRequest(key=key))
    else:
        update = metadata_pb2.UpdateVariableRequest(key=key, variable=variable_body(body), update_mask=fields)
        answer = await stub.UpdateVariable(update)
    return json_response(variable_response(answer.variable))


@endpoint(Capability.OPERATE)
async def delete_variable(request: Request) -> Response:
    key = request.path_params["variable_key"]
    await _stub(request).DeleteVariable(metadata_pb2.DeleteVariableRequest(key=key))
    return Response(status_code=204)


@endpoint(Capability.OPERATE)
async def bulk_variables(request: Request) -> Response:
    body = await parse_body_without_nul(request, BulkBody[VariableBody])
    actions = []
    for action in body.actions:
        message = metadata_pb2.BulkVariableAction(kind=ACTION_KINDS[action.action], on_conflict=on_conflict(action))
        for entity in action.entities:
            if isinstance(entity, str):  # a delete names keys
                message.entities.add(key=entity)
                continue
            message.entities.append(variable_body(entity))
            if action.action == "update":
                fields = update_fields(set(entity.model_fields_set), action.update_mask, "key")
                message.update_masks.add(fields=fields)
        actions.append(message)
    answer = await _stub(request).BulkVariables(metadata_pb2.BulkVariablesRequest(actions=actions))
    return json_response(bulk_response(answer.results))


routes = [
    Route("/variables", get_variables, methods=["GET"]),
    Route("/variables", post_variable, methods=["POST"]),
    Route("/variables", bulk_variables, methods=["PATCH"]),
    Route("/variables/{variable_key}", get_variable, methods=["GET"]),
    Route("/variables/{variable_key}", patch_variable, methods=["PATCH"]),
    Route("/variables/{variable_key}", delete_variable, methods=["DELETE"]),
    # Airflow's keys may hold "/" ({variable_key:path}).
    Route("/variables/{variable_key:path}", get_variable, methods=["GET"]),
    Route("/variables/{variable_key:path}", patch_variable, methods=["PATCH"]),
    Route("/variables/{variable_key:path}", delete_variable, methods=["DELETE"]),
]
