"""BackfillService: create (or dry-run), read, pause, unpause, cancel backfills."""

from __future__ import annotations

from google.protobuf.json_format import MessageToDict
from leoflow_common.errors import InvalidArgument
from leoflow_proto.scheduler.v1 import backfills_pb2, backfills_pb2_grpc

from ..domain import backfills
from ..domain.context import SchedulerContext
from ..domain.params import integral_json
from . import convert_scheduling as convert
from .common import caller_name, caller_tenant, page, require, timestamp


def _request(message: backfills_pb2.BackfillSpec) -> backfills.BackfillRequest:
    from_date, to_date = timestamp(message, "from_date"), timestamp(message, "to_date")
    if from_date is None:
        raise InvalidArgument("from_date is required", field="from_date")
    if to_date is None:
        raise InvalidArgument("to_date is required", field="to_date")
    if message.reprocess_behavior not in convert.REPROCESS_FROM_PROTO:
        raise InvalidArgument(f"unknown reprocess_behavior {message.reprocess_behavior}", field="reprocess_behavior")
    return backfills.BackfillRequest(
        dag_id=require(message.dag_id, "dag_id"),
        from_date=from_date,
        to_date=to_date,
        run_backwards=message.run_backwards,
        dag_run_conf=integral_json(MessageToDict(message.dag_run_conf)) if message.HasField("dag_run_conf") else None,
        reprocess_behavior=convert.REPROCESS_FROM_PROTO[message.reprocess_behavior],
        max_active_runs=message.max_active_runs or 10,
    )


class BackfillServicer(backfills_pb2_grpc.BackfillServiceServicer):
    """BackfillService over `domain.backfills`."""

    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx

    def _tenant(self, context) -> str:
        return caller_tenant(context, self._ctx.default_tenant)

    async def CreateBackfill(self, request, context):
        row = await backfills.create_backfill(
            self._ctx, self._tenant(context), _request(request.backfill), caller_name()
        )
        return backfills_pb2.CreateBackfillResponse(backfill=convert.backfill(row))

    async def DryRunBackfill(self, request, context):
        dates = await backfills.dry_run(self._ctx, self._tenant(context), _request(request.backfill))
        response = backfills_pb2.DryRunBackfillResponse()
        for when in dates:
            response.logical_dates.add().FromDatetime(when)
        return response

    async def GetBackfill(self, request, context):
        row = await backfills.get_backfill(self._ctx, self._tenant(context), request.backfill_id)
        return backfills_pb2.GetBackfillResponse(backfill=convert.backfill(row))

    async def ListBackfills(self, request, context):
        limit, offset, order_by = page(request.page)
        rows, total = await backfills.list_backfills(
            self._ctx, self._tenant(context), dag_id=request.dag_id or None,
            active=request.active if request.HasField("active") else None,
            order_by=order_by, limit=limit, offset=offset,
        )  # fmt: skip
        return backfills_pb2.ListBackfillsResponse(
            backfills=[convert.backfill(r) for r in rows], total_entries=total
        )

    async def PauseBackfill(self, request, context):
        row = await backfills.set_paused(self._ctx, self._tenant(context), request.backfill_id, True, caller_name())
        return backfills_pb2.PauseBackfillResponse(backfill=convert.backfill(row))

    async def UnpauseBackfill(self, request, context):
        row = await backfills.set_paused(self._ctx, self._tenant(context), request.backfill_id, False, caller_name())
        return backfills_pb2.UnpauseBackfillResponse(backfill=convert.backfill(row))

    async def CancelBackfill(self, request, context):
        row = await backfills.cancel(self._ctx, self._tenant(context), request.backfill_id, caller_name())
        return backfills_pb2.CancelBackfillResponse(backfill=convert.backfill(row))
