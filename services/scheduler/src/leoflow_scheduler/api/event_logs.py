"""EventLogService over `metadata.event_logs`."""

from __future__ import annotations

from leoflow_common.errors import InvalidArgument
from leoflow_proto.scheduler.v1 import metadata_pb2, metadata_pb2_grpc

from ..domain.context import SchedulerContext
from ..metadata import event_logs
from ..repository.audit_log import EventQuery
from . import metadata_convert as convert
from .common import caller_tenant, page, timestamp

_EXACT = ("dag_id", "task_id", "run_id", "owner", "event")
_SEARCHABLE = ("dag_id", "task_id", "run_id", "owner", "event")


class EventLogServicer(metadata_pb2_grpc.EventLogServiceServicer):
    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx

    def _tenant(self, context) -> str:
        return caller_tenant(context, self._ctx.default_tenant)

    async def GetEventLog(self, request, context):
        if request.event_log_id <= 0:
            raise InvalidArgument("event_log_id must be positive", field="event_log_id")
        row = await event_logs.get_event_log(self._ctx, self._tenant(context), request.event_log_id)
        return metadata_pb2.GetEventLogResponse(event_log=convert.event_log(row))

    async def ListEventLogs(self, request, context):
        limit, offset, order_by = page(request.page)
        exact = {name: getattr(request, name) for name in _EXACT if getattr(request, name)}
        for name in ("map_index", "try_number"):
            if request.HasField(name):
                exact[name] = getattr(request, name)
        query = EventQuery(
            exact=exact,
            excluded_events=list(request.excluded_events),
            included_events=list(request.included_events),
            before=timestamp(request, "before"),
            after=timestamp(request, "after"),
            patterns={n: getattr(request, f"{n}_pattern") for n in _SEARCHABLE if getattr(request, f"{n}_pattern")},
            prefix_patterns={
                n: getattr(request, f"{n}_prefix_pattern") for n in _SEARCHABLE if getattr(request, f"{n}_prefix_pattern")
            },
            order_by=order_by,
            limit=limit,
            offset=offset,
        )
        rows, total = await event_logs.list_event_logs(self._ctx, self._tenant(context), query)
        return metadata_pb2.ListEventLogsResponse(event_logs=[convert.event_log(r) for r in rows], total_entries=total)
