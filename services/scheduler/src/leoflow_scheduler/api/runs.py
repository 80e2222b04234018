"""DagRunService: trigger, read, mark and delete DagRuns."""

from __future__ import annotations

from google.protobuf.json_format import MessageToDict
from leoflow_common.states import DagRunState, DagRunType
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.scheduler.v1 import runs_pb2, runs_pb2_grpc

from ..domain import runs
from ..domain.context import SchedulerContext
from ..domain.run_stats import count_runs_by_state
from ..repository.dag_runs import RUN_FILTER_COLUMNS, RunQuery
from . import convert
from .common import caller_name, caller_tenant, from_enum, page, require, timestamp, wildcard
from .filters import field_conditions

_RANGES = ("logical_date", "run_after", "start_date", "end_date")


class DagRunServicer(runs_pb2_grpc.DagRunServiceServicer):
    """DagRunService over `domain.runs`."""

    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx

    def _tenant(self, context) -> str:
        return caller_tenant(context, self._ctx.default_tenant)

    async def TriggerDagRun(self, request, context):
        trigger = runs.TriggerRequest(
            dag_id=require(request.dag_id, "dag_id"),
            run_id=request.run_id,
            logical_date=timestamp(request, "logical_date"),
            data_interval_start=timestamp(request, "data_interval_start"),
            data_interval_end=timestamp(request, "data_interval_end"),
            run_after=timestamp(request, "run_after"),
            conf=MessageToDict(request.conf) if request.HasField("conf") else {},
            note=request.note or None,
            triggered_by=request.triggered_by or "rest_api",
        )
        row = await runs.trigger_dag_run(self._ctx, self._tenant(context), trigger, caller_name())
        return runs_pb2.TriggerDagRunResponse(dag_run=convert.dag_run(row))

    async def GetDagRun(self, request, context):
        key = request.key
        row = await runs.get_dag_run(
            self._ctx,
            self._tenant(context),
            require(key.dag_id, "key.dag_id"),
            require(key.run_id, "key.run_id"),
        )
        return runs_pb2.GetDagRunResponse(dag_run=convert.dag_run(row))

    async def ListDagRuns(self, request, context):
        limit, offset, order_by = page(request.page)
        query = RunQuery(
            conditions=field_conditions(request.filters, RUN_FILTER_COLUMNS),
            dag_ids=wildcard(request.dag_id) + list(request.dag_ids),
            states=[
                from_enum(DagRunState.from_proto, s, "states").value
                for s in request.states
                if s != states_pb2.DAG_RUN_STATE_UNSPECIFIED
            ],
            run_types=[
                from_enum(DagRunType.from_proto, t, "run_types").value
                for t in request.run_types
                if t != states_pb2.DAG_RUN_TYPE_UNSPECIFIED
            ],
            run_ids=list(request.run_ids),
            ranges={
                name: (timestamp(request, f"{name}_gte"), timestamp(request, f"{name}_lte"))
                for name in _RANGES
            },
            run_id_pattern=request.run_id_pattern,
            triggering_user_name_pattern=request.triggering_user_name_pattern,
            order_by=order_by,
            limit=limit,
            offset=offset,
        )
        rows, total = await runs.list_dag_runs(self._ctx, self._tenant(context), query)
        return runs_pb2.ListDagRunsResponse(
            dag_runs=[convert.dag_run(r) for r in rows], total_entries=total
        )

    async def UpdateDagRun(self, request, context):
        key = request.key
        state = (
            None
            if request.state == states_pb2.DAG_RUN_STATE_UNSPECIFIED
            else from_enum(DagRunState.from_proto, request.state, "state")
        )
        row = await runs.update_dag_run(
            self._ctx,
            self._tenant(context),
            require(key.dag_id, "key.dag_id"),
            require(key.run_id, "key.run_id"),
            state,
            request.note if request.HasField("note") else None,
            request.HasField("note"),
            caller_name(),
        )
        return runs_pb2.UpdateDagRunResponse(dag_run=convert.dag_run(row))

    async def DeleteDagRun(self, request, context):
        key = request.key
        await runs.delete_dag_run(
            self._ctx,
            self._tenant(context),
            require(key.dag_id, "key.dag_id"),
            require(key.run_id, "key.run_id"),
            caller_name(),
        )
        return runs_pb2.DeleteDagRunResponse()

    async def CountDagRunsByState(self, request, context):
        rows = await count_runs_by_state(self._ctx, self._tenant(context), list(request.dag_ids))
        return runs_pb2.CountDagRunsByStateResponse(
            counts=[
                runs_pb2.DagRunStateCount(
                    dag_id=row["dag_id"], state=DagRunState(row["state"]).to_proto(), count=row["count"]
                )
                for row in rows
            ]
        )
