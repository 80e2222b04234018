"""Subscriptions.SCHEDULER_TASK_EVENTS: what the dispatcher reports about
executions (task_instance.state_changed.v1), applied by domain.task_events.
A handler exception makes the bus redeliver; the inbox makes redelivery safe."""

from __future__ import annotations

from leoflow_common.bus import Bus, Consumer, Subscriptions
from leoflow_proto.events.v1.envelope_pb2 import Envelope

from ..domain.context import SchedulerContext
from ..domain.task_events import handle_envelope


async def subscribe_task_events(ctx: SchedulerContext, bus: Bus) -> Consumer:
    """Consume the dispatcher's reports until the returned consumer is cancelled."""

    async def handler(envelope: Envelope) -> None:
        await handle_envelope(ctx, envelope)

    return await bus.subscribe(
        Subscriptions.SCHEDULER_TASK_EVENTS, handler, concurrency=ctx.settings.consumer_concurrency
    )
