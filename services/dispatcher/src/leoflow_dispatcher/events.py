"""State-change events of executions, ready for the bus.

An envelope's id is "<execution name>/<state>": one execution publishes each state
at most once, so a report the agent retries, or an event republished after a
failed publish, is the same message to every consumer (they dedupe on the id).
"""

from __future__ import annotations

from datetime import UTC, datetime

from leoflow_common.bus import TASK_INSTANCE_STATE_CHANGED, make_envelope
from leoflow_common.states import TaskInstanceState
from leoflow_proto.dispatcher.v1.agent_pb2 import ReportStateRequest
from leoflow_proto.events.v1 import events_pb2
from leoflow_proto.events.v1.envelope_pb2 import Envelope

from .execution import Execution
from .lifecycle import Failure, clip_message

PRODUCER = "dispatcher"


def envelope_id(execution_name: str, state: TaskInstanceState) -> str:
    """The idempotency key of `execution_name` entering `state`."""
    return f"{execution_name}/{state.value}"


def event_from_report(
    execution: Execution, state: TaskInstanceState, report: ReportStateRequest, failure_kind: int
) -> events_pb2.TaskInstanceStateChanged:
    """The event for a state the agent reported, with everything it said."""
    event = _base_event(execution, state)
    event.exit_code = report.exit_code
    event.error_message = clip_message(report.error_message)
    event.failure_kind = failure_kind
    if report.HasField("occurred_at"):
        event.occurred_at.CopyFrom(report.occurred_at)
    event.hostname = (report.hostname or execution.hostname)[:255]
    event.pid = report.pid or execution.pid
    if report.HasField("rendered_fields"):
        event.rendered_fields.CopyFrom(report.rendered_fields)
    event.rendered_map_index = report.rendered_map_index
    event.follow_task_ids.extend(report.follow_task_ids)
    event.branch_decided = report.branch_decided
    event.skip_downstream = report.skip_downstream
    event.mapped_lengths.update(report.mapped_lengths)
    return event


def event_from_failure(
    execution: Execution, failure: Failure
) -> events_pb2.TaskInstanceStateChanged:
    """The FAILED event the dispatcher publishes on the agent's behalf."""
    event = _base_event(execution, TaskInstanceState.FAILED)
    event.exit_code = failure.exit_code
    event.error_message = failure.message
    event.failure_kind = failure.kind
    event.hostname = execution.hostname
    event.pid = execution.pid
    return event


def wrap(execution: Execution, event: events_pb2.TaskInstanceStateChanged) -> Envelope:
    """The envelope of `event`, keyed for idempotency."""
    state = TaskInstanceState.from_proto(event.state)
    return make_envelope(
        TASK_INSTANCE_STATE_CHANGED,
        event,
        tenant_id=execution.tenant_id,
        producer=PRODUCER,
        envelope_id=envelope_id(execution.name, state),
    )


def _base_event(
    execution: Execution, state: TaskInstanceState
) -> events_pb2.TaskInstanceStateChanged:
    event = events_pb2.TaskInstanceStateChanged(
        try_number=execution.spec.try_number,
        state=state.to_proto(),
        execution_name=execution.name,
    )
    event.key.CopyFrom(execution.spec.key)
    event.occurred_at.FromDatetime(datetime.now(UTC))
    return event
