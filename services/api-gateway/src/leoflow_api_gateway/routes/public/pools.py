"""/api/v2/pools: list, get, create, patch, delete, bulk (Airflow's
routes/public/pools.py), over the scheduler's PoolService."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_common.errors import AlreadyExists, InvalidArgument, NotFound
from leoflow_proto.scheduler.v1 import pools_pb2, pools_pb2_grpc
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.pools import pool_response
from ...datamodels.pools import (
    BulkActionResponse,
    BulkBody,
    BulkResponse,
    PoolBody,
    PoolCollectionResponse,
    PoolPatchBody,
)
from ...datamodels.variables import NO_TEAMS
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError, invalid_input, leoflow_error_of, validation_error
from ...http.params import parse_body, parse_query
from ...http.responses import json_response
from ..common import PagedQuery, page_of, prefix_patterns, search_pattern

DEFAULT_POOL = "default_pool"


def _stub(request: Request) -> pools_pb2_grpc.PoolServiceStub:
    return pools_pb2_grpc.PoolServiceStub(gateway(request).clients.scheduler_channel)


def _not_found(name: str) -> HTTPError:
    return HTTPError(404, f"The Pool with name: `{name}` was not found")


async def _call(call, name: str, request: Request):
    """The answer; Airflow's 404 for NotFound, 422 for InvalidArgument, 409 for AlreadyExists."""
    try:
        return await call
    except Exception as exc:
        error = leoflow_error_of(exc)
        if isinstance(error, NotFound):
            raise _not_found(name) from None
        if isinstance(error, InvalidArgument):
            raise invalid_input(error, request) from None
        if isinstance(error, AlreadyExists):
            raise HTTPError(error.http_status, error.message) from None
        raise


def _no_teams(team_name: str | None) -> None:
    if team_name:  # "" is the UI form's "no team"
        raise validation_error(("body", "team_name"), NO_TEAMS, input_=team_name)


class GetPoolsQuery(PagedQuery):
    pool_name_pattern: str | None = None
    pool_name_prefix_pattern: str | None = None


@endpoint(Capability.READ)
async def get_pools(request: Request) -> Response:
    """Pools with their slot statistics."""
    query = parse_query(request, GetPoolsQuery)
    pg = page_of(request, query)
    answer = await _call(
        _stub(request).ListPools(
            pools_pb2.ListPoolsRequest(
                page=pg.request(),
                name_pattern=search_pattern(query.pool_name_pattern),
                name_prefixes=prefix_patterns(query.pool_name_prefix_pattern),
            )
        ),
        "",
        request,
    )
    pools = pg.take(list(answer.pools))
    return json_response(PoolCollectionResponse(pools=[pool_response(p) for p in pools], total_entries=answer.total_entries))


@endpoint(Capability.READ)
async def get_pool(request: Request) -> Response:
    name = request.path_params["pool_name"]
    answer = await _call(_stub(request).GetPool(pools_pb2.GetPoolRequest(name=name)), name, request)
    return json_response(pool_response(answer.pool))


@endpoint(Capability.OPERATE)
async def post_pool(request: Request) -> Response:
    """Create a pool (201)."""
    body = await parse_body(request, PoolBody)
    _no_teams(body.team_name)
    fields = pools_pb2.PoolFields(name=body.name, slots=body.slots, include_deferred=body.include_deferred)
    if body.description is not None:
        fields.description = body.description
    answer = await _call(_stub(request).CreatePool(pools_pb2.CreatePoolRequest(pool=fields)), body.name, request)
    return json_response(pool_response(answer.pool), status_code=201)


class PatchPoolQuery(BaseModel):
    update_mask: list[str] | None = None


@endpoint(Capability.OPERATE)
async def patch_pool(request: Request) -> Response:
    """Change a pool's slots, description or include_deferred (default_pool: only
    slots and include_deferred, named in update_mask, as Airflow requires)."""
    name = request.path_params["pool_name"]
    query = parse_query(request, PatchPoolQuery)
    body = await parse_body(request, PoolPatchBody)
    if body.name and body.name != name:
        raise HTTPError(400, "Invalid body, pool name from request body doesn't match uri parameter")
    _no_teams(body.team_name)
    mask = [m.strip() for m in query.update_mask] if query.update_mask else None
    if name == DEFAULT_POOL and not (mask and all(m in {"slots", "include_deferred"} for m in mask)):
        raise HTTPError(400, "Only slots and included_deferred can be modified on Default Pool")
    fields = set(mask) if mask else body.model_fields_set - {"name", "team_name"}
    unknown = fields - {"slots", "description", "include_deferred", "name", "pool", "team_name"}
    if unknown:
        raise HTTPError(400, f"Invalid fields to update: {sorted(unknown)}")
    changes = pools_pb2.PoolFields()
    for field in sorted(fields & {"slots", "description", "include_deferred"}):
        value = getattr(body, field)
        if value is None and field != "description":
            raise HTTPError(400, f"{field} must not be null")
        if value is not None:
            setattr(changes, field, value)
        elif field == "description":
            changes.description = ""
    answer = await _call(_stub(request).UpdatePool(pools_pb2.UpdatePoolRequest(name=name, changes=changes)), name, request)
    return json_response(pool_response(answer.pool))


@endpoint(Capability.OPERATE)
async def delete_pool(request: Request) -> Response:
    name = request.path_params["pool_name"]
    if name == DEFAULT_POOL:
        raise HTTPError(400, "Default Pool can't be deleted")
    await _call(_stub(request).DeletePool(pools_pb2.DeletePoolRequest(name=name)), name, request)
    return Response(status_code=204)


def _fields(entity) -> pools_pb2.PoolFields:
    fields = pools_pb2.PoolFields(name=entity.name, slots=entity.slots, include_deferred=entity.include_deferred)
    if entity.description is not None:
        fields.description = entity.description
    return fields


@endpoint(Capability.OPERATE)
async def bulk_pools(request: Request) -> Response:
    """Create, update and delete pools in one request; each action reports its own errors."""
    body = await parse_body(request, BulkBody)
    actions = []
    for action in body.actions:
        message = pools_pb2.BulkPoolAction(action=action.action, action_on_non_existence=getattr(action, "action_on_non_existence", ""))
        if action.action == "delete":
            message.names.extend(e if isinstance(e, str) else e.name for e in action.entities)
        else:
            for entity in action.entities:
                _no_teams(entity.team_name)
                message.entities.append(_fields(entity))
        if action.action == "create":
            message.action_on_existence = action.action_on_existence
        if action.action == "update" and action.update_mask:
            message.update_mask.extend(action.update_mask)
        actions.append(message)
    answer = await _call(_stub(request).BulkPools(pools_pb2.BulkPoolsRequest(actions=actions)), "", request)
    result = BulkResponse()
    for item in answer.results:
        setattr(
            result,
            item.action,
            BulkActionResponse(
                success=list(item.success),
                errors=[{"error": e.error, "status_code": e.status_code} for e in item.errors],
            ),
        )
    return json_response(result)


routes = [
    Route("/pools", get_pools, methods=["GET"]),
    Route("/pools", post_pool, methods=["POST"]),
    Route("/pools", bulk_pools, methods=["PATCH"]),
    Route("/pools/{pool_name:path}", get_pool, methods=["GET"]),
    Route("/pools/{pool_name:path}", patch_pool, methods=["PATCH"]),
    Route("/pools/{pool_name:path}", delete_pool, methods=["DELETE"]),
]
