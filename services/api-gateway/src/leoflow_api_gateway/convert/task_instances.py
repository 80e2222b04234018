"""TaskInstance -> TaskInstanceResponse."""

from __future__ import annotations

from typing import Any

from leoflow_common.states import TaskInstanceState
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.scheduler.v1 import models_pb2

from ..datamodels.task_instances import TaskInstanceHistoryResponse, TaskInstanceResponse
from .common import required_ts, seconds_between, struct, text, ts
from .dag_versions import dag_version_response
from .structure import operator_display_name

# Airflow's name for the pool a task without one runs in.
DEFAULT_POOL = "default_pool"


def ti_state(value: int) -> str | None:
    """Airflow's state string; its "no state yet" is null."""
    if value == states_pb2.TASK_INSTANCE_STATE_UNSPECIFIED:
        return None
    return TaskInstanceState.from_proto(value).value


def _try_fields(ti: models_pb2.TaskInstance, dag_display_name: str) -> dict[str, Any]:
    """The fields a task instance and each of its tries share."""
    start, end = ts(ti, "start_date"), ts(ti, "end_date")
    version = ti.dag_version if ti.HasField("dag_version") else None
    return dict(
        task_id=ti.task_id,
        dag_id=ti.dag_id,
        dag_run_id=ti.run_id,
        map_index=ti.map_index,
        start_date=start,
        end_date=end,
        duration=seconds_between(start, end),
        state=ti_state(ti.state),
        try_number=ti.try_number,
        max_tries=ti.max_tries,
        task_display_name=ti.task_display_name or ti.task_id,
        dag_display_name=dag_display_name,
        hostname=text(ti.hostname),
        unixname=text(ti.unixname),
        pool=ti.pool or DEFAULT_POOL,
        pool_slots=ti.pool_slots or 1,
        queue=text(ti.queue),
        priority_weight=ti.priority_weight,
        # Airflow: `operator` is the class, `operator_name` the name it shows ("@task").
        operator=text(ti.operator_name),
        operator_name=operator_display_name(ti.operator_name),
        queued_when=ts(ti, "queued_when"),
        scheduled_when=ts(ti, "scheduled_when"),
        pid=ti.pid or None,
        executor=text(ti.executor),
        # Airflow serialises an empty executor_config as "{}"; Leoflow has no such config.
        executor_config="{}",
        dag_version=dag_version_response(version, dag_display_name) if version else None,
    )


def task_instance_response(ti: models_pb2.TaskInstance, dag_display_name: str) -> TaskInstanceResponse:
    return TaskInstanceResponse(
        **_try_fields(ti, dag_display_name),
        id=ti.id,
        logical_date=ts(ti, "logical_date"),
        run_after=required_ts(ti, "run_after"),
        note=text(ti.note),
        rendered_map_index=text(ti.rendered_map_index),
        rendered_fields=struct(ti, "rendered_fields") or {},
    )


def task_instance_history_response(ti: models_pb2.TaskInstance, dag_display_name: str) -> TaskInstanceHistoryResponse:
    """One try (ListTaskInstanceTries answers each try as a TaskInstance)."""
    return TaskInstanceHistoryResponse(**_try_fields(ti, dag_display_name))
