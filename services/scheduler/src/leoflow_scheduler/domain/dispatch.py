"""Queueing a try: the task instance moves to queued through the state machine
and, in the same transaction, a DispatchRequested carrying the full
TaskExecution goes to the outbox. A try is never queued without its request,
nor requested without being queued."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from leoflow_common.states import DagRunType, TaskInstanceState
from leoflow_proto.dag.v1 import execution_pb2

from ..metrics import DISPATCHES
from ..repository import run_history
from ..state_machine import propose_ti_state
from ..state_machine.rules import TaskRule
from . import events
from .params import param_defaults
from .specs import LoadedVersion
from .uow import UnitOfWork, utcnow


def run_params(version: LoadedVersion, conf: dict[str, Any]) -> dict[str, Any]:
    """Params after defaults and the trigger conf (Airflow's dag_run_conf_overrides_params);
    validated when the run was created."""
    return {**param_defaults(version.spec), **(conf or {})}


def _ts(message, field: str, value: datetime | None) -> None:
    if value is not None:
        getattr(message, field).FromDatetime(value)


def build_execution(
    *,
    run_row,
    ti_row,
    version: LoadedVersion,
    try_number: int,
    dispatch_attempt: int,
    queued_at: datetime,
    previous_success=None,
) -> execution_pb2.TaskExecution:
    """Everything an agent needs to run this try (never secrets)."""
    spec = version.spec
    task = version.graph.tasks[ti_row["task_id"]]
    execution = execution_pb2.TaskExecution(
        tenant_id=ti_row["tenant_id"],
        key=events.ti_key(ti_row),
        try_number=try_number,
        max_tries=ti_row["max_tries"],
        task_instance_id=str(ti_row["id"]),
        dag_version_id=str(version.id),
        dag_version_number=version.version_number,
        task=task,
        environment=spec.environment,
        dag_file=spec.source.relative_fileloc,
        upstream_task_ids=list(version.graph.upstream[task.task_id]),
        dispatch_attempt=dispatch_attempt,
        # A downstream task maps over this output: the agent reports its length.
        report_output_length=task.task_id in version.reported_outputs,
    )
    _ts(execution, "queued_at", queued_at)
    run = execution.run
    run.dag_id = run_row["dag_id"]
    run.run_id = run_row["run_id"]
    run.run_type = DagRunType(run_row["run_type"]).to_proto()
    run.timezone = spec.timezone or "UTC"
    for field in (
        "logical_date",
        "data_interval_start",
        "data_interval_end",
        "run_after",
        "start_date",
    ):
        _ts(run, field, run_row[field])
    conf = run_row["conf"] or {}
    run.conf.update(conf)
    run.params.update(run_params(version, conf))
    if previous_success is not None:
        previous = run.previous_success
        previous.run_id = previous_success["run_id"]
        for field in ("start_date", "end_date", "data_interval_start", "data_interval_end"):
            _ts(previous, field, previous_success[field])
    return execution


async def queue_try(
    uow: UnitOfWork,
    *,
    rule: TaskRule,
    run_row,
    ti_row,
    version: LoadedVersion,
    new_try: bool,
    **changes: Any,
) -> bool:
    """Move the task instance to queued by `rule` and request its dispatch.

    `new_try` starts the next try (try_number + 1, dispatch attempt 0); otherwise
    the same try is dispatched again with dispatch_attempt + 1."""
    now = utcnow()
    try_number = ti_row["try_number"] + 1 if new_try else ti_row["try_number"]
    attempt = 0 if new_try else ti_row["dispatch_attempt"] + 1
    fields: dict[str, Any] = {
        "try_number": try_number,
        "dispatch_attempt": attempt,
        "queued_at": now,
    }
    if new_try:
        fields.update(
            start_date=None, end_date=None, next_retry_at=None, hostname="", pid=None, exit_code=None,
            error="", failure_kind="", execution_name="", rendered_fields=None,
        )  # fmt: skip
    fields.update(changes)
    expected = TaskInstanceState.from_db(ti_row["state"])
    if not await propose_ti_state(uow.conn, ti_row["id"], rule, expected, **fields):
        return False
    execution = build_execution(
        run_row=run_row,
        ti_row=ti_row,
        version=version,
        try_number=try_number,
        dispatch_attempt=attempt,
        queued_at=now,
        previous_success=await run_history.previous_success(conn=uow.conn, run_row=run_row),
    )
    await events.dispatch_requested(uow, execution)
    DISPATCHES.inc()
    return True
