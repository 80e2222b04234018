"""TaskSpec (of the latest DagSpec) -> TaskResponse."""

from __future__ import annotations

from datetime import timedelta

from leoflow_common.states import TriggerRule
from leoflow_proto.dag.v1 import dag_pb2

from ..datamodels.tasks import TaskResponse, TimeDelta
from .common import duration, ts
from .dags import dag_params
from .structure import operator_display_name

# Airflow's names for where a task runs when it names nothing.
DEFAULT_POOL = "default_pool"
DEFAULT_QUEUE = "default"


def _time_delta(value: timedelta | None) -> TimeDelta | None:
    if value is None:
        return None
    return TimeDelta(days=value.days, seconds=value.seconds, microseconds=value.microseconds)


def downstream_ids(spec: dag_pb2.DagSpec) -> dict[str, list[str]]:
    downstream: dict[str, list[str]] = {task.task_id: [] for task in spec.tasks}
    for task in spec.tasks:
        for upstream in task.upstream_task_ids:
            downstream.setdefault(upstream, []).append(task.task_id)
    return {task_id: sorted(ids) for task_id, ids in downstream.items()}


def task_response(spec: dag_pb2.DagSpec, task: dag_pb2.TaskSpec, downstream: list[str]) -> TaskResponse:
    return TaskResponse(
        task_id=task.task_id,
        task_display_name=task.display_name or task.task_id,
        owner=task.owner or None,
        start_date=ts(spec, "start_date"),
        end_date=ts(spec, "end_date"),
        trigger_rule=TriggerRule.from_proto(task.trigger_rule).value,
        # The compiled spec has no depends_on_past / wait_for_downstream: Airflow's default, off.
        depends_on_past=False,
        wait_for_downstream=False,
        retries=float(task.retries),
        queue=task.queue or DEFAULT_QUEUE,
        pool=task.pool or DEFAULT_POOL,
        pool_slots=float(task.pool_slots or 1),
        execution_timeout=_time_delta(duration(task, "execution_timeout")),
        retry_delay=_time_delta(duration(task, "retry_delay")),
        retry_exponential_backoff=float(task.retry_exponential_backoff),
        priority_weight=float(task.priority_weight or 1),
        weight_rule=None,
        ui_color=None,
        ui_fgcolor=None,
        template_fields=list(task.template_fields),
        downstream_task_ids=downstream,
        doc_md=task.doc_md or None,
        operator_name=operator_display_name(task.operator_name),
        # Tasks see their DAG's params (Airflow merges them into each task's).
        params=dag_params(spec),
        class_ref={"class_name": task.operator_name} if task.operator_name else None,
        is_mapped=task.HasField("mapping"),
        extra_links=[],
    )
