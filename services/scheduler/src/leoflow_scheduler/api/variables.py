"""VariableService over `metadata.variables`."""

from __future__ import annotations

from leoflow_proto.scheduler.v1 import metadata_pb2, metadata_pb2_grpc

from ..domain.context import SchedulerContext
from ..metadata import bulk, variables
from ..metadata.crypto import SecretBox
from . import metadata_convert as convert
from .common import caller_name, caller_tenant, page, require


class VariableServicer(metadata_pb2_grpc.VariableServiceServicer):
    def __init__(self, ctx: SchedulerContext, box: SecretBox):
        self._ctx = ctx
        self._box = box

    def _tenant(self, context) -> str:
        return caller_tenant(context, self._ctx.default_tenant)

    async def GetVariable(self, request, context):
        view = await variables.get_variable(self._ctx, self._box, self._tenant(context), require(request.key, "key"))
        return metadata_pb2.GetVariableResponse(variable=convert.variable(view))

    async def ListVariables(self, request, context):
        limit, offset, order_by = page(request.page)
        views, total = await variables.list_variables(
            self._ctx, self._box, self._tenant(context), key_pattern=request.key_pattern,
            key_prefix_pattern=request.key_prefix_pattern, order_by=order_by, limit=limit, offset=offset,
        )  # fmt: skip
        return metadata_pb2.ListVariablesResponse(variables=[convert.variable(v) for v in views], total_entries=total)

    async def CreateVariable(self, request, context):
        item = convert.variable_input(request.variable)
        view = await variables.create_variable(self._ctx, self._box, self._tenant(context), item, caller_name())
        return metadata_pb2.CreateVariableResponse(variable=convert.variable(view))

    async def UpdateVariable(self, request, context):
        item = convert.variable_input(request.variable, request.update_mask)
        view = await variables.update_variable(
            self._ctx, self._box, self._tenant(context), require(request.key, "key"), item, caller_name()
        )
        return metadata_pb2.UpdateVariableResponse(variable=convert.variable(view))

    async def DeleteVariable(self, request, context):
        await variables.delete_variable(self._ctx, self._tenant(context), require(request.key, "key"), caller_name())
        return metadata_pb2.DeleteVariableResponse()

    async def BulkVariables(self, request, context):
        actions = []
        for index, action in enumerate(request.actions):
            kind = bulk.action_kind(action.kind, index)
            masks = list(action.update_masks)
            items = [
                convert.variable_input(body, masks[i].fields if i < len(masks) else ())
                for i, body in enumerate(action.entities)
            ]
            actions.append(variables.BulkAction(kind, items, bulk.on_conflict(action.on_conflict, kind, index)))
        results = await variables.bulk_variables(self._ctx, self._box, self._tenant(context), actions, caller_name())
        return metadata_pb2.BulkVariablesResponse(results=[r.to_proto() for r in results])
