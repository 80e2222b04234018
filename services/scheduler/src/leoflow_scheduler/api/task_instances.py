"""TaskInstanceService: read task instances and their tries, mark and clear them."""

from __future__ import annotations

from leoflow_common.errors import InvalidArgument
from leoflow_common.states import TaskInstanceState
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.scheduler.v1 import task_instances_pb2, task_instances_pb2_grpc

from ..domain import clearing, task_instance_notes
from ..domain import task_instances as tis
from ..domain.context import SchedulerContext
from ..repository.task_instances import TI_FILTER_COLUMNS, TaskInstanceQuery
from . import convert
from .common import caller_name, caller_tenant, from_enum, page, require, timestamp, wildcard
from .filters import field_conditions

_RANGES = ("run_after", "logical_date", "start_date", "end_date")


def _key(key, prefix: str = "key") -> tuple[str, str, str, int]:
    return (
        require(key.dag_id, f"{prefix}.dag_id"),
        require(key.run_id, f"{prefix}.run_id"),
        require(key.task_id, f"{prefix}.task_id"),
        key.map_index,
    )


class TaskInstanceServicer(task_instances_pb2_grpc.TaskInstanceServiceServicer):
    """TaskInstanceService over `domain.task_instances` and `domain.clearing`."""

    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx

    def _tenant(self, context) -> str:
        return caller_tenant(context, self._ctx.default_tenant)

    async def ListTaskInstances(self, request, context):
        limit, offset, order_by = page(request.page)
        states = [from_enum(TaskInstanceState.from_proto, s, "states") for s in request.states]
        query = TaskInstanceQuery(
            conditions=field_conditions(request.filters, TI_FILTER_COLUMNS),
            dag_ids=wildcard(request.dag_id) + list(request.dag_ids),
            run_ids=wildcard(request.run_id) + list(request.run_ids),
            task_ids=wildcard(request.task_id) + list(request.task_ids),
            # UNSPECIFIED in `states` is Airflow's "none", like include_no_state.
            states=[s.value for s in states if s is not TaskInstanceState.NONE],
            include_no_state=request.include_no_state or TaskInstanceState.NONE in states,
            map_index=request.map_index if request.HasField("map_index") else None,
            ranges={
                name: (timestamp(request, f"{name}_gte"), timestamp(request, f"{name}_lte"))
                for name in _RANGES
            },
            pools=list(request.pools),
            queues=list(request.queues),
            task_display_name_pattern=request.task_display_name_pattern,
            order_by=order_by,
            limit=limit,
            offset=offset,
        )
        rows, total = await tis.list_task_instances(self._ctx, self._tenant(context), query)
        return task_instances_pb2.ListTaskInstancesResponse(
            task_instances=[convert.task_instance(r) for r in rows], total_entries=total
        )

    async def GetTaskInstance(self, request, context):
        row = await tis.get_task_instance(self._ctx, self._tenant(context), *_key(request.key))
        return task_instances_pb2.GetTaskInstanceResponse(task_instance=convert.task_instance(row))

    async def ListTaskInstanceTries(self, request, context):
        rows = await tis.list_tries(self._ctx, self._tenant(context), *_key(request.key))
        return task_instances_pb2.ListTaskInstanceTriesResponse(
            tries=[convert.task_instance(r) for r in rows]
        )

    async def UpdateTaskInstanceState(self, request, context):
        dag_id, run_id, task_id, map_index = _key(request.key)
        if request.new_state == states_pb2.TASK_INSTANCE_STATE_UNSPECIFIED:
            if not request.HasField("note"):
                raise InvalidArgument("new_state or note is required", field="new_state")
            # Only the note changes (Airflow's PATCH with just `note`).
            rows = await task_instance_notes.set_note(
                self._ctx,
                self._tenant(context),
                (dag_id, run_id, task_id, map_index),
                request.note or None,
                caller_name(),
                dry_run=request.dry_run,
            )
            return task_instances_pb2.UpdateTaskInstanceStateResponse(
                task_instances=[convert.task_instance(r) for r in rows]
            )
        mark = tis.MarkRequest(
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=map_index,
            new_state=from_enum(TaskInstanceState.from_proto, request.new_state, "new_state"),
            note=request.note if request.HasField("note") else None,
            set_note=request.HasField("note"),
            dry_run=request.dry_run,
            include_upstream=request.include_upstream,
            include_downstream=request.include_downstream,
            include_future=request.include_future,
            include_past=request.include_past,
        )
        rows = await tis.update_state(self._ctx, self._tenant(context), mark, caller_name())
        return task_instances_pb2.UpdateTaskInstanceStateResponse(
            task_instances=[convert.task_instance(r) for r in rows]
        )

    async def ClearTaskInstances(self, request, context):
        task_ids = list(request.task_ids) + [
            k.task_id for k in request.task_instance_keys if k.task_id
        ]
        clear = clearing.ClearRequest(
            dag_id=require(request.dag_id, "dag_id"),
            run_id=request.run_id,
            task_ids=list(dict.fromkeys(task_ids)),
            dry_run=request.dry_run,
            only_failed=request.only_failed,
            only_running=request.only_running,
            reset_dag_runs=request.reset_dag_runs,
            include_upstream=request.include_upstream,
            include_downstream=request.include_downstream,
            include_future=request.include_future,
            include_past=request.include_past,
            start_date=timestamp(request, "start_date"),
            end_date=timestamp(request, "end_date"),
            run_on_latest_version=request.run_on_latest_version,
            note=request.note if request.HasField("note") else None,
        )
        rows = await clearing.clear_task_instances(
            self._ctx, self._tenant(context), clear, caller_name()
        )
        return task_instances_pb2.ClearTaskInstancesResponse(
            task_instances=[convert.task_instance(r) for r in rows]
        )
