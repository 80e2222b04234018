"""DAG-level callbacks (on_success_callback / on_failure_callback): when the
scheduler ends a run and the DAG has the matching callback, a callback
execution is requested through the outbox like any try, so an agent runs it in
the DAG's own environment, never the control plane.

The execution's key is the run's with task_id "__dag_callback__" (map_index
-1, try 1); no task instance row exists for it. Its dag_callback carries the
kind, Airflow's reason ("success", "task_failure", "all_tasks_deadlocked") and
the run's final state. Reports about it are recorded in the audit log only.
"""

from __future__ import annotations

from leoflow_common.states import DagRunState, DagRunType
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.dag.v1 import dag_pb2, execution_pb2

from . import events
from .params import param_defaults
from .specs import LoadedVersion
from .uow import UnitOfWork, utcnow

CALLBACK_TASK_ID = "__dag_callback__"
ON_SUCCESS = "on_success_callback"
ON_FAILURE = "on_failure_callback"


def callback_kind(spec: dag_pb2.DagSpec, state: DagRunState) -> str | None:
    """The callback the DAG has for a run ending in `state`, if any."""
    if state == DagRunState.SUCCESS and spec.callbacks.on_success:
        return ON_SUCCESS
    if state == DagRunState.FAILED and spec.callbacks.on_failure:
        return ON_FAILURE
    return None


def build_callback_execution(
    run_row, version: LoadedVersion, kind: str, reason: str, state: DagRunState
) -> execution_pb2.TaskExecution:
    """The TaskExecution of one DAG callback (never carries secrets)."""
    spec = version.spec
    execution = execution_pb2.TaskExecution(
        tenant_id=run_row["tenant_id"],
        key=keys_pb2.TaskInstanceKey(
            dag_id=run_row["dag_id"], run_id=run_row["run_id"], task_id=CALLBACK_TASK_ID, map_index=-1
        ),
        try_number=1,
        max_tries=0,
        dag_version_id=str(version.id),
        dag_version_number=version.version_number,
        task=dag_pb2.TaskSpec(
            task_id=CALLBACK_TASK_ID, kind=dag_pb2.OPERATOR_KIND_PYTHON, operator_name="DagCallback"
        ),
        environment=spec.environment,
        dag_file=spec.source.relative_fileloc,
        dag_callback=execution_pb2.DagCallback(kind=kind, reason=reason, run_state=state.to_proto()),
    )
    execution.queued_at.FromDatetime(utcnow())
    run = execution.run
    run.dag_id, run.run_id = run_row["dag_id"], run_row["run_id"]
    run.run_type = DagRunType(run_row["run_type"]).to_proto()
    run.timezone = spec.timezone or "UTC"
    for name in ("logical_date", "data_interval_start", "data_interval_end", "run_after", "start_date"):
        if run_row[name] is not None:
            getattr(run, name).FromDatetime(run_row[name])
    conf = run_row["conf"] or {}
    run.conf.update(conf)
    run.params.update({**param_defaults(spec), **conf})
    return execution


async def request_dag_callback(
    uow: UnitOfWork, run_row, version: LoadedVersion, state: DagRunState, reason: str
) -> bool:
    """Dispatch the DAG's callback for a run that ended in `state`; True if it has one."""
    kind = callback_kind(version.spec, state)
    if kind is None:
        return False
    await events.dispatch_requested(uow, build_callback_execution(run_row, version, kind, reason, state))
    return True
