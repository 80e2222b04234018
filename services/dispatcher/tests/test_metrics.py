"""Every metric the dispatcher declares is observed (a declared metric that is
never observed is a bug)."""

from __future__ import annotations

from leoflow_common.errors import Unavailable
from leoflow_common.states import TaskInstanceState
from leoflow_common.testing import assert_eventually
from leoflow_dispatcher import metrics
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dispatcher.v1 import agent_pb2

TI = TaskInstanceState


class RefusingOnceBus:
    """The in-process bus, refusing the first publication (fault injection)."""

    def __init__(self, bus):
        self._bus = bus
        self.refused = 0

    async def publish(self, envelope):
        if self.refused == 0:
            self.refused += 1
            raise Unavailable("broker unreachable (injected)")
        await self._bus.publish(envelope)

    def __getattr__(self, name):
        return getattr(self._bus, name)


async def test_every_declared_metric_is_observed(harness):
    refusing = RefusingOnceBus(harness.bus)
    harness.bus, real_bus = refusing, harness.bus
    try:
        app = await harness.start()
    finally:
        harness.bus = real_bus

    running = harness.execution("long", mode="run_until_told")
    name = await harness.dispatch(running)
    channel, stub = harness.agent(harness.token(running))
    async with channel:

        async def reported_running():
            try:
                await stub.ReportState(
                    agent_pb2.ReportStateRequest(state=states_pb2.TASK_INSTANCE_STATE_RUNNING)
                )
            except Exception:  # noqa: BLE001 - the first publication is refused; the retry goes through
                return False
            return True

        await assert_eventually(reported_running)
    await harness.wait_event(name, TI.RUNNING)
    slots_in_use = metrics.EXECUTIONS_RUNNING._value.get()
    await harness.dispatch(running)  # a redelivery
    await harness.cancel(running)
    broken = await harness.dispatch(harness.execution("broken", environment_hash="missing"))
    await harness.wait_event(broken, TI.FAILED)

    async def all_observed():
        assert metrics.METRICS.unobserved() == []
        return True

    await assert_eventually(all_observed)
    assert slots_in_use >= 1
    assert app.supervisor.get(name).cancelled
