"""Applying what the dispatcher reports about an execution
(TaskInstanceStateChanged) to the task instance, then deciding what follows.

Invariants:
- at most once per envelope id: the inbox row is written in the same transaction;
- only the current try counts: a report for another try_number is ignored;
- a report the state machine does not allow from the current state (late,
  duplicated, or overtaken by a user's mark) is ignored;
- failures: an infrastructure failure re-dispatches the same try (dispatch_attempt
  + 1) until the budget is spent, then fails; FAIL_NO_RETRY fails at once; any
  other failure goes up_for_retry while tries remain (Airflow: retries > 0 and
  try_number <= max_tries), with Airflow's retry delay, else fails;
- every finished try is copied to task_instance_history;
- a success's mapped_lengths (the output's item counts, asked for with
  report_output_length) are stored for the mapped downstream's expansion;
- an execution that ends frees its slots: the admission loop is woken;
- a finished try wakes the DAG's following run (its depends_on_past tasks may
  run now), after the report committed;
- reports about a DAG callback ("__dag_callback__") change no task instance:
  their outcome is written to the audit log.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict
from leoflow_common.bus import decode_payload
from leoflow_common.states import TaskInstanceState as TI
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.events.v1 import events_pb2
from leoflow_proto.events.v1.envelope_pb2 import Envelope

from ..metrics import RETRIES_SCHEDULED, TASK_EVENTS
from ..repository import audit_log, dag_runs, inbox, task_instances, task_maps, ti_history
from ..scheduling.evaluator import evaluate_run
from ..scheduling.retry_delay import DEFAULT_RETRY_DELAY, next_retry_at
from ..state_machine import propose_ti_state, task_rules
from ..state_machine.rules import TaskRule
from . import dispatch, events
from .context import SchedulerContext
from .dag_callbacks import CALLBACK_TASK_ID
from .failure_kinds import failure_kind_to_db
from .following_runs import evaluate_following_runs
from .specs import LoadedVersion
from .uow import WAKE_RETRIES, WAKE_SLOTS, UnitOfWork, utcnow

log = logging.getLogger(__name__)

CONSUMER = "scheduler.task_events"


async def handle_envelope(ctx: SchedulerContext, envelope: Envelope) -> None:
    """Bus handler: apply one TaskInstanceStateChanged (idempotent on its id)."""
    event = decode_payload(envelope)
    if not isinstance(event, events_pb2.TaskInstanceStateChanged):
        log.warning("ignoring %s on the task-events subscription", envelope.type)
        TASK_EVENTS.labels("ignored").inc()
        return
    tenant_id = envelope.tenant_id or ctx.default_tenant
    async with ctx.transaction() as uow:
        if not await inbox.claim(
            conn=uow.conn, consumer=CONSUMER, envelope_id=envelope.id, tenant_id=tenant_id
        ):
            log.debug("duplicate envelope %s ignored", envelope.id)
            TASK_EVENTS.labels("duplicate").inc()
            return
        outcome = await apply_state_change(ctx, uow, tenant_id, event)
    TASK_EVENTS.labels(outcome).inc()
    if outcome == "applied" and event.state != states_pb2.TASK_INSTANCE_STATE_RUNNING:
        # The next run's depends_on_past / wait_for_downstream tasks may run now.
        try:
            await evaluate_following_runs(ctx, tenant_id, event.key.dag_id, event.key.run_id)
        except Exception:  # noqa: BLE001 - the report is applied; its next event re-evaluates
            log.exception("evaluating the runs after %s failed", event.key.run_id)


async def apply_state_change(
    ctx: SchedulerContext,
    uow: UnitOfWork,
    tenant_id: str,
    event: events_pb2.TaskInstanceStateChanged,
) -> str:
    """Apply one report inside `uow` (the caller dealt with idempotency).
    Returns its outcome: "applied"; "stale" (about another try); "unknown" (no
    such task instance); "ignored" (not applicable in the current state)."""
    key = event.key
    if key.task_id == CALLBACK_TASK_ID:
        return await _record_callback_outcome(uow, tenant_id, event)
    found = await task_instances.find_key(
        conn=uow.conn,
        tenant_id=tenant_id,
        dag_id=key.dag_id,
        run_id=key.run_id,
        task_id=key.task_id,
        map_index=key.map_index,
    )
    if found is None:
        log.warning(
            "report for unknown task instance %s/%s/%s[%s] ignored",
            key.dag_id,
            key.run_id,
            key.task_id,
            key.map_index,
        )
        return "unknown"
    run_row = await dag_runs.lock_run(conn=uow.conn, run_pk=found["dag_run_id"])
    ti_row = await task_instances.get_by_id(conn=uow.conn, ti_id=found["id"])
    if event.try_number != ti_row["try_number"]:
        log.info(
            "report for try %s of %s ignored: it is on try %s",
            event.try_number,
            ti_row["id"],
            ti_row["try_number"],
        )
        return "stale"
    version = await ctx.specs.get(uow.conn, ti_row["dag_version_id"])
    applied = await _apply(ctx, uow, run_row, ti_row, version, event)
    if not applied:
        return "ignored"
    if event.state == states_pb2.TASK_INSTANCE_STATE_RUNNING:
        # A try that starts running satisfies no trigger rule, frees no pool or
        # concurrency slot (queued and running hold theirs alike) and cannot end the
        # run: there is nothing to decide, and the run's lock is released sooner for
        # the report that will (its task's end).
        return "applied"
    uow.wake(WAKE_SLOTS)
    if event.state == states_pb2.TASK_INSTANCE_STATE_SUCCESS and event.mapped_lengths:
        await task_maps.record(
            conn=uow.conn, tenant_id=tenant_id, run_pk=run_row["id"], task_id=ti_row["task_id"],
            map_index=ti_row["map_index"], lengths={k: max(0, v) for k, v in event.mapped_lengths.items()},
        )  # fmt: skip
    await evaluate_run(ctx, uow, run_row)
    return "applied"


_CALLBACK_OUTCOMES = {
    states_pb2.TASK_INSTANCE_STATE_SUCCESS: "success",
    states_pb2.TASK_INSTANCE_STATE_FAILED: "failed",
    states_pb2.TASK_INSTANCE_STATE_SKIPPED: "skipped",
}


async def _record_callback_outcome(uow: UnitOfWork, tenant_id: str, event) -> str:
    """A DAG callback's report: only its outcome is kept, in the audit log."""
    outcome = _CALLBACK_OUTCOMES.get(event.state)
    if outcome is None:
        return "ignored"  # running: nothing to record
    key = event.key
    extra = {"outcome": outcome, "try_number": event.try_number}
    if event.error_message:
        extra["error"] = event.error_message
    await audit_log.write_event(
        conn=uow.conn, tenant_id=tenant_id, event="dag_callback", owner="scheduler", dag_id=key.dag_id,
        run_id=key.run_id, task_id=CALLBACK_TASK_ID, extra=extra,
    )  # fmt: skip
    return "callback"


def _when(event) -> datetime:
    return event.occurred_at.ToDatetime(tzinfo=UTC) if event.HasField("occurred_at") else utcnow()


def _execution_details(event) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if event.hostname:
        details["hostname"] = event.hostname
    if event.pid:
        details["pid"] = event.pid
    if event.execution_name:
        details["execution_name"] = event.execution_name
    if event.HasField("rendered_fields"):
        details["rendered_fields"] = MessageToDict(event.rendered_fields)
    if event.rendered_map_index:
        details["rendered_map_index"] = event.rendered_map_index
    return details


async def _propose(uow, ti_row, rule: TaskRule, **changes) -> bool:
    state = TI.from_db(ti_row["state"])
    if not rule.allows(state):
        log.info("%s not applicable to %s in state %s; report ignored", rule, ti_row["id"], state)
        return False
    return await propose_ti_state(uow.conn, ti_row["id"], rule, state, **changes)


async def _apply(ctx, uow, run_row, ti_row, version: LoadedVersion, event) -> bool:
    try:
        state = TI.from_proto(event.state)
    except (KeyError, ValueError):
        log.warning("report with unknown state %s for %s ignored", event.state, ti_row["id"])
        return False
    when = _when(event)
    details = _execution_details(event)
    current = TI.from_db(ti_row["state"])
    if current == TI.RESTARTING:
        if state == TI.RUNNING:
            return False
        # The try a user cleared while it ran has ended: record it and run again.
        await ti_history.record_try(conn=uow.conn, ti_id=ti_row["id"], state=state)
        return await _propose(uow, ti_row, task_rules.RequeueRestartedTask, **details)
    if state == TI.RUNNING:
        return await _propose(uow, ti_row, task_rules.StartRunningTask, start_date=when, **details)
    finish = {
        "end_date": when,
        "start_date": ti_row["start_date"] or when,
        "exit_code": event.exit_code,
        **details,
    }
    if state == TI.SUCCESS:
        if not await _propose(uow, ti_row, task_rules.SucceedTask, **finish):
            return False
        await ti_history.record_try(conn=uow.conn, ti_id=ti_row["id"])
        await _skip_not_followed(uow, version, run_row, ti_row["task_id"], event)
        return True
    if state == TI.SKIPPED:
        if not await _propose(uow, ti_row, task_rules.SkipTask, **finish):
            return False
        await ti_history.record_try(conn=uow.conn, ti_id=ti_row["id"])
        return True
    if state == TI.FAILED:
        return await _apply_failure(ctx, uow, run_row, ti_row, version, event, finish)
    log.warning("report of state %s for %s is not supported yet; ignored", state, ti_row["id"])
    return False


async def _apply_failure(ctx, uow, run_row, ti_row, version, event, finish) -> bool:
    kind = event.failure_kind
    finish = {**finish, "error": event.error_message, "failure_kind": failure_kind_to_db(kind)}
    if kind == states_pb2.FAILURE_KIND_INFRASTRUCTURE:
        budget = ctx.settings.infrastructure_dispatch_budget
        if ti_row["dispatch_attempt"] + 1 < budget:
            if not task_rules.RedispatchAfterInfrastructureFailure.allows(
                TI.from_db(ti_row["state"])
            ):
                return False
            return await dispatch.queue_try(
                uow, rule=task_rules.RedispatchAfterInfrastructureFailure, run_row=run_row, ti_row=ti_row,
                version=version, new_try=False, error=event.error_message, failure_kind=finish["failure_kind"],
            )  # fmt: skip
        finish["error"] = (
            f"{event.error_message} (infrastructure failure; {budget} dispatch attempts used)".strip()
        )
    task = version.graph.tasks[ti_row["task_id"]]
    retryable = kind not in (
        states_pb2.FAILURE_KIND_INFRASTRUCTURE,
        states_pb2.FAILURE_KIND_FAIL_NO_RETRY,
    )
    if retryable and task.retries > 0 and ti_row["try_number"] <= ti_row["max_tries"]:
        due = next_retry_at(
            finish["end_date"],
            try_number=ti_row["try_number"],
            delay=task.retry_delay.ToTimedelta()
            if task.HasField("retry_delay")
            else DEFAULT_RETRY_DELAY,
            exponential_backoff=task.retry_exponential_backoff,
            max_retry_delay=task.max_retry_delay.ToTimedelta()
            if task.HasField("max_retry_delay")
            else None,
            dag_id=ti_row["dag_id"],
            task_id=ti_row["task_id"],
            logical_date=run_row["logical_date"],
        )
        if not await _propose(uow, ti_row, task_rules.RetryFailedTask, next_retry_at=due, **finish):
            return False
        await ti_history.record_try(conn=uow.conn, ti_id=ti_row["id"])
        # The failed try's XComs must not be seen by the next one.
        await events.task_instances_cleared(uow, ti_row["tenant_id"], [ti_row])
        uow.wake(WAKE_RETRIES)
        RETRIES_SCHEDULED.inc()
        return True
    if not await _propose(uow, ti_row, task_rules.FailTask, **finish):
        return False
    await ti_history.record_try(conn=uow.conn, ti_id=ti_row["id"])
    return True


async def _skip_not_followed(uow, version: LoadedVersion, run_row, task_id: str, event) -> None:
    """Branching and short-circuiting: skip the tasks the finished task ruled out.

    A branch task skips its direct downstream tasks it did not follow (Airflow's
    SkipMixin.skip_all_except); a short-circuit skips everything downstream
    (ignore_downstream_trigger_rules, Airflow's default)."""
    task = version.graph.tasks[task_id]
    if task.kind == dag_pb2.OPERATOR_KIND_BRANCH_PYTHON and event.branch_decided:
        followed = set(event.follow_task_ids)
        to_skip = {t for t in version.graph.downstream[task_id] if t not in followed}
    elif task.kind == dag_pb2.OPERATOR_KIND_SHORT_CIRCUIT and event.skip_downstream:
        if task.HasField("ignore_downstream_trigger_rules") and not task.ignore_downstream_trigger_rules:
            # Only the direct downstream; the others' trigger rules decide.
            to_skip = set(version.graph.downstream[task_id])
        else:
            to_skip = version.graph.descendants(task_id)
    else:
        return
    if not to_skip:
        return
    now = utcnow()
    for row in await task_instances.for_run(conn=uow.conn, run_pk=run_row["id"]):
        state = TI.from_db(row["state"])
        if row["task_id"] in to_skip and task_rules.SkipNotFollowedBranch.allows(state):
            await propose_ti_state(
                uow.conn,
                row["id"],
                task_rules.SkipNotFollowedBranch,
                state,
                start_date=now,
                end_date=now,
            )
