"""ConnectionService over `metadata.connections`."""

from __future__ import annotations

from leoflow_proto.scheduler.v1 import metadata_pb2, metadata_pb2_grpc

from ..domain.context import SchedulerContext
from ..metadata import bulk, connections
from ..metadata.crypto import SecretBox
from . import metadata_convert as convert
from .common import caller_name, caller_tenant, page, require


class ConnectionServicer(metadata_pb2_grpc.ConnectionServiceServicer):
    def __init__(self, ctx: SchedulerContext, box: SecretBox):
        self._ctx = ctx
        self._box = box

    def _tenant(self, context) -> str:
        return caller_tenant(context, self._ctx.default_tenant)

    async def GetConnection(self, request, context):
        view = await connections.get_connection(
            self._ctx, self._tenant(context), require(request.connection_id, "connection_id")
        )
        return metadata_pb2.GetConnectionResponse(connection=convert.connection(view))

    async def ListConnections(self, request, context):
        limit, offset, order_by = page(request.page)
        views, total = await connections.list_connections(
            self._ctx, self._tenant(context), id_pattern=request.connection_id_pattern,
            id_prefix_pattern=request.connection_id_prefix_pattern, order_by=order_by, limit=limit, offset=offset,
        )  # fmt: skip
        return metadata_pb2.ListConnectionsResponse(
            connections=[convert.connection(v) for v in views], total_entries=total
        )

    async def CreateConnection(self, request, context):
        item = convert.connection_input(request.connection)
        view = await connections.create_connection(self._ctx, self._box, self._tenant(context), item, caller_name())
        return metadata_pb2.CreateConnectionResponse(connection=convert.connection(view))

    async def UpdateConnection(self, request, context):
        item = convert.connection_input(request.connection, request.update_mask)
        view = await connections.update_connection(
            self._ctx, self._box, self._tenant(context), require(request.connection_id, "connection_id"), item, caller_name()
        )
        return metadata_pb2.UpdateConnectionResponse(connection=convert.connection(view))

    async def DeleteConnection(self, request, context):
        await connections.delete_connection(
            self._ctx, self._tenant(context), require(request.connection_id, "connection_id"), caller_name()
        )
        return metadata_pb2.DeleteConnectionResponse()

    async def BulkConnections(self, request, context):
        actions = []
        for index, action in enumerate(request.actions):
            kind = bulk.action_kind(action.kind, index)
            masks = list(action.update_masks)
            items = [
                convert.connection_input(body, masks[i].fields if i < len(masks) else ())
                for i, body in enumerate(action.entities)
            ]
            actions.append(connections.BulkAction(kind, items, bulk.on_conflict(action.on_conflict, kind, index)))
        results = await connections.bulk_connections(self._ctx, self._box, self._tenant(context), actions, caller_name())
        return metadata_pb2.BulkConnectionsResponse(results=[r.to_proto() for r in results])
