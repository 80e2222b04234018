"""/api/v2/connections: list, get, create, patch, delete, bulk, test (Airflow's
routes/public/connections.py) over the scheduler's ConnectionService.

Passwords and sensitive extra fields never come back ("***"); a patch that sends
"***" back, or leaves the field out, keeps the stored secret. Connections are
Op's, reads included (Airflow's simple auth manager). Testing a connection is
disabled, as in Airflow by default ([core] test_connection = Disabled): running a
connection check means running provider code, which Leoflow does only inside task
processes, never in the control plane.
"""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_common.errors import AlreadyExists
from leoflow_proto.scheduler.v1 import metadata_pb2, metadata_pb2_grpc
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...convert.bulk import ACTION_KINDS, bulk_response, on_conflict, update_fields
from ...convert.connections import connection_body, connection_response
from ...datamodels.bulk import BulkBody
from ...datamodels.connections import ConnectionBody, ConnectionCollectionResponse
from ...http.endpoint import endpoint, gateway
from ...http.errors import HTTPError, leoflow_error_of
from ...http.params import parse_query
from ...http.responses import json_response
from ..common import PagedQuery, page_of
from .metadata_common import check_order_by, parse_body_without_nul

TEST_DISABLED = (
    "Testing connections is disabled in Airflow configuration. Contact your deployment admin to enable it."
)


def _stub(request: Request) -> metadata_pb2_grpc.ConnectionServiceStub:
    return metadata_pb2_grpc.ConnectionServiceStub(gateway(request).clients.scheduler_channel)


class GetConnectionsQuery(PagedQuery):
    connection_id_pattern: str | None = None
    connection_id_prefix_pattern: str | None = None


class UpdateMaskQuery(BaseModel):
    update_mask: list[str] | None = None


@endpoint(Capability.OPERATE)
async def get_connections(request: Request) -> Response:
    query = parse_query(request, GetConnectionsQuery)
    check_order_by(query.order_by)
    pg = page_of(request, query)
    answer = await _stub(request).ListConnections(
        metadata_pb2.ListConnectionsRequest(
            page=pg.request(),
            connection_id_pattern=query.connection_id_pattern or "",
            connection_id_prefix_pattern=query.connection_id_prefix_pattern or "",
        )
    )
    connections = [connection_response(c) for c in pg.take(list(answer.connections))]
    return json_response(ConnectionCollectionResponse(connections=connections, total_entries=answer.total_entries))


@endpoint(Capability.OPERATE)
async def get_connection(request: Request) -> Response:
    connection_id = request.path_params["connection_id"]
    answer = await _stub(request).GetConnection(metadata_pb2.GetConnectionRequest(connection_id=connection_id))
    return json_response(connection_response(answer.connection))


@endpoint(Capability.OPERATE)
async def post_connection(request: Request) -> Response:
    body = await parse_body_without_nul(request, ConnectionBody)
    try:
        answer = await _stub(request).CreateConnection(metadata_pb2.CreateConnectionRequest(connection=connection_body(body)))
    except Exception as exc:
        error = leoflow_error_of(exc)
        if isinstance(error, AlreadyExists):
            # Airflow answers a duplicate with its unique-constraint handler's body.
            raise HTTPError(
                409,
                {"reason": "Unique constraint violation", "statement": "hidden", "orig_error": "hidden", "message": error.message},
            ) from None
        raise
    return json_response(connection_response(answer.connection), status_code=201)


@endpoint(Capability.OPERATE)
async def patch_connection(request: Request) -> Response:
    """Update the fields the body names (narrowed by update_mask)."""
    connection_id = request.path_params["connection_id"]
    mask = parse_query(request, UpdateMaskQuery).update_mask
    body = await parse_body_without_nul(request, ConnectionBody)
    if body.connection_id != connection_id:
        raise HTTPError(400, "The connection_id in the request body does not match the URL parameter")
    fields = update_fields(body.fields_sent(), mask, "connection_id")
    stub = _stub(request)
    if not fields:  # nothing to change: Airflow answers the connection as it is
        answer = await stub.GetConnection(metadata_pb2.GetConnectionRequest(connection_id=connection_id))
    else:
        update = metadata_pb2.UpdateConnectionRequest(
            connection_id=connection_id, connection=connection_body(body), update_mask=fields
        )
        answer = await stub.UpdateConnection(update)
    return json_response(connection_response(answer.connection))


@endpoint(Capability.OPERATE)
async def delete_connection(request: Request) -> Response:
    connection_id = request.path_params["connection_id"]
    await _stub(request).DeleteConnection(metadata_pb2.DeleteConnectionRequest(connection_id=connection_id))
    return Response(status_code=204)


@endpoint(Capability.OPERATE)
async def bulk_connections(request: Request) -> Response:
    body = await parse_body_without_nul(request, BulkBody[ConnectionBody])
    actions = []
    for action in body.actions:
        message = metadata_pb2.BulkConnectionAction(kind=ACTION_KINDS[action.action], on_conflict=on_conflict(action))
        for entity in action.entities:
            if isinstance(entity, str):  # a delete names ids
                message.entities.add(connection_id=entity)
                continue
            message.entities.append(connection_body(entity))
            if action.action == "update":
                message.update_masks.add(fields=update_fields(entity.fields_sent(), action.update_mask, "connection_id"))
        actions.append(message)
    answer = await _stub(request).BulkConnections(metadata_pb2.BulkConnectionsRequest(actions=actions))
    return json_response(bulk_response(answer.results))


@endpoint(Capability.OPERATE)
async def test_connection(request: Request) -> Response:
    """Airflow's answer with [core] test_connection = Disabled (its default), after
    validating the body as Airflow does."""
    await parse_body_without_nul(request, ConnectionBody)
    raise HTTPError(403, TEST_DISABLED)


routes = [
    Route("/connections", get_connections, methods=["GET"]),
    Route("/connections", post_connection, methods=["POST"]),
    Route("/connections", bulk_connections, methods=["PATCH"]),
    Route("/connections/test", test_connection, methods=["POST"]),
    Route("/connections/{connection_id}", get_connection, methods=["GET"]),
    Route("/connections/{connection_id}", patch_connection, methods=["PATCH"]),
    Route("/connections/{connection_id}", delete_connection, methods=["DELETE"]),
]
