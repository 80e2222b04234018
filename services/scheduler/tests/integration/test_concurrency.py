"""Concurrency: two upstream tasks finishing at the same moment never both miss
their common downstream (the run-row lock), and propose() is a real
compare-and-set."""

import asyncio

from leoflow_common.bus import TASK_INSTANCE_STATE_CHANGED, make_envelope
from leoflow_common.states import TaskInstanceState as TI
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.events.v1 import events_pb2
from leoflow_scheduler.domain.task_events import handle_envelope
from leoflow_scheduler.repository import task_instances
from leoflow_scheduler.state_machine import propose_ti_state, task_rules

ROUNDS = 15


def _envelope(execution, state):
    event = events_pb2.TaskInstanceStateChanged(
        key=execution.key, try_number=execution.try_number, state=state
    )
    return make_envelope(
        TASK_INSTANCE_STATE_CHANGED, event, tenant_id=execution.tenant_id, producer="test"
    )


async def test_concurrent_upstream_finishes_never_miss_the_join(scheduler, spec_builder):
    await scheduler.register(
        spec_builder(
            "join", {"left": [], "right": [], "join": ["left", "right"]}, max_active_runs=ROUNDS
        )
    )
    ctx = scheduler.app.ctx
    for i in range(ROUNDS):
        run = await scheduler.trigger("join", run_id=f"r{i}")
        left = await scheduler.dispatched("left", run_id=run.run_id)
        right = await scheduler.dispatched("right", run_id=run.run_id)
        for ex in (left, right):
            await scheduler.start_running(ex)
        # Both successes applied at the same moment, each in its own transaction.
        await asyncio.gather(
            handle_envelope(ctx, _envelope(left, states_pb2.TASK_INSTANCE_STATE_SUCCESS)),
            handle_envelope(ctx, _envelope(right, states_pb2.TASK_INSTANCE_STATE_SUCCESS)),
        )
        states = await scheduler.ti_states("join", run.run_id)
        assert states == {"left": TI.SUCCESS, "right": TI.SUCCESS, "join": TI.QUEUED}, (i, states)
    assert sum(d.execution.key.task_id == "join" for d in scheduler.dispatches) == ROUNDS


async def test_propose_is_compare_and_set(scheduler, spec_builder):
    await scheduler.register(spec_builder("cas", {"a": []}))
    run = await scheduler.trigger("cas")
    await scheduler.dispatched("a")
    async with scheduler.app.ctx.pool.acquire() as conn:
        row = await conn.fetchrow(
            "SELECT id, state FROM task_instances WHERE run_id = $1", run.run_id
        )
        assert row["state"] == "queued"
        # A writer that still believes the task is waiting loses: nothing changes.
        assert not await propose_ti_state(conn, row["id"], task_rules.QueueReadyTask, TI.NONE)
        assert not await propose_ti_state(conn, row["id"], task_rules.SucceedTask, TI.RUNNING)
        assert (await task_instances.get_by_id(conn=conn, ti_id=row["id"]))["state"] == "queued"
        # The writer that saw the current state wins, exactly once.
        assert await propose_ti_state(conn, row["id"], task_rules.StartRunningTask, TI.QUEUED)
        assert not await propose_ti_state(conn, row["id"], task_rules.StartRunningTask, TI.QUEUED)
        assert (await task_instances.get_by_id(conn=conn, ti_id=row["id"]))["state"] == "running"
