"""Envelopes: versioned wrappers whose id is the idempotency key."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from google.protobuf.message import DecodeError, Message
from leoflow_proto.events.v1 import events_pb2
from leoflow_proto.events.v1.envelope_pb2 import Envelope

from ..errors import InvalidArgument
from ..telemetry import inject_trace_context
from ._topology import (
    CANCEL_REQUESTED,
    DAG_RUN_STATE_CHANGED,
    DISPATCH_REQUESTED,
    TASK_INSTANCE_STATE_CHANGED,
    TASK_INSTANCES_CLEARED,
)

ENVELOPE_VERSION = 1

EVENT_TYPES: dict[str, type[Message]] = {
    DISPATCH_REQUESTED: events_pb2.DispatchRequested,
    TASK_INSTANCE_STATE_CHANGED: events_pb2.TaskInstanceStateChanged,
    TASK_INSTANCES_CLEARED: events_pb2.TaskInstancesCleared,
    CANCEL_REQUESTED: events_pb2.CancelRequested,
    DAG_RUN_STATE_CHANGED: events_pb2.DagRunStateChanged,
}


def make_envelope(
    event_type: str,
    payload: Message,
    *,
    tenant_id: str,
    producer: str,
    envelope_id: str | None = None,
    trace_context: dict[str, str] | None = None,
) -> Envelope:
    """Wrap `payload`. Pass `envelope_id` to make the message idempotent across
    retries of the producer (e.g. the outbox row id). `trace_context` defaults
    to the current span's (W3C traceparent), so consumers continue the trace of
    whoever created the message; pass {} to start none."""
    expected = EVENT_TYPES.get(event_type)
    if expected is None or not isinstance(payload, expected):
        raise InvalidArgument(f"payload {type(payload).__name__} does not match event type {event_type!r}")
    env = Envelope(
        envelope_version=ENVELOPE_VERSION,
        id=envelope_id or str(uuid.uuid4()),
        type=event_type,
        tenant_id=tenant_id,
        payload=payload.SerializeToString(),
        producer=producer,
    )
    env.occurred_at.FromDatetime(datetime.now(UTC))
    env.trace_context.update(inject_trace_context() if trace_context is None else trace_context)
    return env


def decode_payload(envelope: Envelope) -> Message:
    """The payload message of `envelope`; InvalidArgument for an unknown version
    or type, or a payload that is not a valid message of its type."""
    if envelope.envelope_version != ENVELOPE_VERSION:
        raise InvalidArgument(f"unsupported envelope version {envelope.envelope_version}")
    cls = EVENT_TYPES.get(envelope.type)
    if cls is None:
        raise InvalidArgument(f"unknown event type {envelope.type!r}")
    message = cls()
    try:
        message.ParseFromString(envelope.payload)
    except DecodeError as exc:
        raise InvalidArgument(f"payload of {envelope.type} {envelope.id!r} is not a valid {cls.__name__}: {exc}") from exc
    return message
