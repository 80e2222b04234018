"""DagRun -> DAGRunResponse."""

from __future__ import annotations

from typing import get_args

from leoflow_common.errors import Internal
from leoflow_common.states import DagRunState, DagRunType
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.scheduler.v1 import models_pb2

from ..datamodels.common import DagRunTriggeredByType
from ..datamodels.dag_run import DAGRunResponse
from ..datamodels.ui.dags import DAGRunLightResponse
from .common import required_ts, seconds_between, struct, text, ts
from .dag_versions import dag_version_response

_TRIGGERED_BY = frozenset(get_args(DagRunTriggeredByType))


def run_type(value: int) -> str:
    # Airflow 3 records TriggerDagRunOperator's runs as "manual" (triggered_by
    # "operator"); 3.2.2's DagRunType has no "operator_triggered".
    if value == states_pb2.DAG_RUN_TYPE_OPERATOR_TRIGGERED:
        return DagRunType.MANUAL.value
    return DagRunType.from_proto(value).value


def run_state(value: int) -> str:
    if value == states_pb2.DAG_RUN_STATE_UNSPECIFIED:
        raise Internal("a DagRun without a state")
    return DagRunState.from_proto(value).value


def dag_run_response(run: models_pb2.DagRun, dag_display_name: str) -> DAGRunResponse:
    """`dag_display_name` is the DAG's (a DagRun message does not carry it)."""
    name = dag_display_name
    version = run.dag_version if run.HasField("dag_version") else None
    start, end = ts(run, "start_date"), ts(run, "end_date")
    return DAGRunResponse(
        dag_run_id=run.run_id,
        dag_id=run.dag_id,
        logical_date=ts(run, "logical_date"),
        queued_at=ts(run, "queued_at"),
        start_date=start,
        end_date=end,
        duration=seconds_between(start, end),
        data_interval_start=ts(run, "data_interval_start"),
        data_interval_end=ts(run, "data_interval_end"),
        run_after=required_ts(run, "run_after"),
        last_scheduling_decision=ts(run, "last_scheduling_decision"),
        run_type=run_type(run.run_type),
        state=run_state(run.state),
        triggered_by=run.triggered_by if run.triggered_by in _TRIGGERED_BY else None,
        triggering_user_name=text(run.triggering_user_name),
        conf=struct(run, "conf"),
        note=text(run.note),
        dag_versions=[dag_version_response(version, name)] if version else [],
        bundle_version=text(version.bundle_version) if version else None,
        dag_display_name=name,
        partition_key=None,
    )


def dag_run_light_response(run: models_pb2.DagRun) -> DAGRunLightResponse:
    """The few fields the DAG list shows of each recent run."""
    start, end = ts(run, "start_date"), ts(run, "end_date")
    return DAGRunLightResponse(
        id=run.id,
        dag_id=run.dag_id,
        run_id=run.run_id,
        logical_date=ts(run, "logical_date"),
        run_after=required_ts(run, "run_after"),
        start_date=start,
        end_date=end,
        state=run_state(run.state),
        duration=seconds_between(start, end),
    )
