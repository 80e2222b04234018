"""The events the scheduler publishes, always through the outbox: each is a row
written in the transaction of the change it announces (so it is published if
and only if the change committed), relayed later by `loops.outbox_relay`."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from google.protobuf.message import Message
from leoflow_common.bus import (
    CANCEL_REQUESTED,
    DAG_RUN_STATE_CHANGED,
    DISPATCH_REQUESTED,
    TASK_INSTANCES_CLEARED,
)
from leoflow_common.states import DagRunState
from leoflow_common.telemetry import inject_trace_context
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.dag.v1 import execution_pb2
from leoflow_proto.events.v1 import events_pb2

from ..repository import outbox
from .uow import WAKE_OUTBOX, UnitOfWork


async def _append(uow: UnitOfWork, tenant_id: str, event_type: str, payload: Message) -> None:
    await outbox.append(
        conn=uow.conn,
        tenant_id=tenant_id,
        event_type=event_type,
        payload=payload.SerializeToString(),
        # The event continues the trace of the change it announces.
        trace_context=inject_trace_context(),
    )
    uow.wake(WAKE_OUTBOX)


def ti_key(row) -> keys_pb2.TaskInstanceKey:
    """The TaskInstanceKey of a task-instance row."""
    return keys_pb2.TaskInstanceKey(
        dag_id=row["dag_id"],
        run_id=row["run_id"],
        task_id=row["task_id"],
        map_index=row["map_index"],
    )


async def dispatch_requested(uow: UnitOfWork, execution: execution_pb2.TaskExecution) -> None:
    """Ask the dispatcher to run this try."""
    await _append(
        uow,
        execution.tenant_id,
        DISPATCH_REQUESTED,
        events_pb2.DispatchRequested(execution=execution),
    )


async def cancel_requested(uow: UnitOfWork, ti_row, reason: str) -> None:
    """Ask the dispatcher to stop the try the task instance is on, if it runs."""
    key = keys_pb2.TaskInstanceTryKey(task_instance=ti_key(ti_row), try_number=ti_row["try_number"])
    await _append(
        uow,
        ti_row["tenant_id"],
        CANCEL_REQUESTED,
        events_pb2.CancelRequested(key=key, reason=reason),
    )


async def task_instances_cleared(uow: UnitOfWork, tenant_id: str, ti_rows: Iterable) -> None:
    """Tell XCom these task instances' values are stale."""
    keys = [ti_key(row) for row in ti_rows]
    if keys:
        await _append(
            uow, tenant_id, TASK_INSTANCES_CLEARED, events_pb2.TaskInstancesCleared(keys=keys)
        )


async def dag_run_state_changed(uow: UnitOfWork, run_row, state: DagRunState) -> None:
    """Announce that the run moved to `state`."""
    message = events_pb2.DagRunStateChanged(
        key=keys_pb2.DagRunKey(dag_id=run_row["dag_id"], run_id=run_row["run_id"]),
        state=state.to_proto(),
    )
    message.occurred_at.FromDatetime(datetime.now(UTC))
    await _append(uow, run_row["tenant_id"], DAG_RUN_STATE_CHANGED, message)
