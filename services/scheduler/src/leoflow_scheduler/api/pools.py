"""PoolService: pools with their slot statistics; create, change, delete, bulk."""

from __future__ import annotations

from typing import Any

from leoflow_common.errors import InvalidArgument
from leoflow_proto.scheduler.v1 import pools_pb2, pools_pb2_grpc

from ..domain import pools
from ..domain.context import SchedulerContext
from ..repository.pools import PoolQuery
from . import convert_scheduling as convert
from .common import caller_name, caller_tenant, page, require


def _fields(message: pools_pb2.PoolFields) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if message.name:
        values["name"] = message.name
    for name in ("slots", "description", "include_deferred"):
        if message.HasField(name):
            values[name] = getattr(message, name)
    return values


class PoolServicer(pools_pb2_grpc.PoolServiceServicer):
    """PoolService over `domain.pools`."""

    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx

    def _tenant(self, context) -> str:
        return caller_tenant(context, self._ctx.default_tenant)

    async def GetPool(self, request, context):
        row = await pools.get_pool(self._ctx, self._tenant(context), require(request.name, "name"))
        return pools_pb2.GetPoolResponse(pool=convert.pool(row))

    async def ListPools(self, request, context):
        limit, offset, order_by = page(request.page)
        query = PoolQuery(
            name_pattern=request.name_pattern, name_prefixes=tuple(request.name_prefixes), order_by=order_by, limit=limit, offset=offset)
        rows, total = await pools.list_pools(self._ctx, self._tenant(context), query)
        return pools_pb2.ListPoolsResponse(pools=[convert.pool(r) for r in rows], total_entries=total)

    async def CreatePool(self, request, context):
        values = _fields(request.pool)
        require(values.get("name", ""), "pool.name")
        if "slots" not in values:
            raise InvalidArgument("slots is required", field="pool.slots")
        row = await pools.create_pool(self._ctx, self._tenant(context), values, caller_name())
        return pools_pb2.CreatePoolResponse(pool=convert.pool(row))

    async def UpdatePool(self, request, context):
        changes = _fields(request.changes)
        changes.pop("name", None)
        row = await pools.update_pool(
            self._ctx, self._tenant(context), require(request.name, "name"), changes, caller_name()
        )
        return pools_pb2.UpdatePoolResponse(pool=convert.pool(row))

    async def DeletePool(self, request, context):
        await pools.delete_pool(self._ctx, self._tenant(context), require(request.name, "name"), caller_name())
        return pools_pb2.DeletePoolResponse()

    async def BulkPools(self, request, context):
        actions = [
            pools.BulkAction(
                action=a.action,
                entities=[_fields(e) for e in a.entities],
                names=list(a.names),
                action_on_existence=a.action_on_existence or "fail",
                action_on_non_existence=a.action_on_non_existence or "fail",
                update_mask=list(a.update_mask),
            )
            for a in request.actions
        ]
        results = await pools.bulk(self._ctx, self._tenant(context), actions, caller_name())
        return pools_pb2.BulkPoolsResponse(
            results=[
                pools_pb2.BulkPoolActionResult(
                    action=action.action,
                    success=result.success,
                    errors=[pools_pb2.BulkPoolError(error=e["error"], status_code=e["status_code"]) for e in result.errors],
                )
                for action, result in zip(actions, results, strict=True)
            ]
        )
