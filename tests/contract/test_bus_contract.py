"""The bus contract: one set of tests, run against every implementation
(InProcessBus for Lite, RabbitMQBus for the stack), so both keep the semantics
services rely on (see leoflow_common.bus and its Bus protocol).

Tests observe only through handlers and dead_letters(); "not delivered again"
is shown by publishing a marker message afterwards and waiting for it: a queue
is consumed in order by a single consumer with concurrency 1, so anything still
pending would have come first.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from leoflow_common.bus import (
    CANCEL_REQUESTED,
    DISPATCH_REQUESTED,
    Subscriptions,
    decode_payload,
    make_envelope,
)
from leoflow_common.bus.rabbitmq import RabbitMQBus
from leoflow_common.errors import InvalidArgument, Unavailable
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1.keys_pb2 import TaskInstanceKey, TaskInstanceTryKey
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution
from leoflow_proto.events.v1 import events_pb2
from leoflow_proto.events.v1.envelope_pb2 import Envelope
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from prometheus_client import REGISTRY

WORK = Subscriptions.DISPATCH_REQUESTS
BROADCAST = Subscriptions.DISPATCHER_CANCELS


def dispatch(task: str = "t", **kwargs) -> Envelope:
    execution = TaskExecution(tenant_id="acme", key=TaskInstanceKey(dag_id="d", run_id="r", task_id=task), try_number=1)
    return make_envelope(DISPATCH_REQUESTED, events_pb2.DispatchRequested(execution=execution), tenant_id="acme", producer="contract-test", **kwargs)


def cancel_request(task: str = "t") -> Envelope:
    key = TaskInstanceTryKey(task_instance=TaskInstanceKey(dag_id="d", run_id="r", task_id=task), try_number=1)
    return make_envelope(CANCEL_REQUESTED, events_pb2.CancelRequested(key=key, reason="test"), tenant_id="acme", producer="contract-test")


class Recorder:
    """A handler that records what it got; it raises for the ids in `fail`
    (as many times as given there, forever for -1)."""

    def __init__(self, fail: dict[str, int] | None = None):
        self.received: list[Envelope] = []
        self.attempts: Counter[str] = Counter()
        self._fail = dict(fail or {})

    async def __call__(self, envelope: Envelope) -> None:
        self.attempts[envelope.id] += 1
        remaining = self._fail.get(envelope.id, 0)
        if remaining:
            self._fail[envelope.id] = remaining - 1 if remaining > 0 else remaining
            raise RuntimeError(f"handler failure for {envelope.id}")
        self.received.append(envelope)
        # Yield like a real handler doing I/O, so competing consumers interleave.
        await asyncio.sleep(0)

    def ids(self) -> list[str]:
        return [e.id for e in self.received]


async def wait_for(recorder: Recorder, envelope_id: str, message: str = "") -> None:
    async def arrived():
        return envelope_id in recorder.ids()

    await assert_eventually(arrived, message=message or f"{envelope_id} not handled")


async def drain_dead_letters(bus, subscription, expected: int) -> list[Envelope]:
    """dead_letters() drains, and dead-lettering may lag: collect until `expected` arrived."""
    collected: list[Envelope] = []

    async def enough():
        collected.extend(await bus.dead_letters(subscription))
        return len(collected) >= expected

    await assert_eventually(enough, message=f"expected {expected} dead letters")
    return collected


# --- delivery -----------------------------------------------------------------


async def test_handler_receives_an_equal_envelope(bus):
    recorder = Recorder()
    await bus.subscribe(WORK, recorder)
    sent = dispatch(trace_context={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", "tracestate": "vendor=1"})

    await bus.publish(sent)

    await wait_for(recorder, sent.id)
    (got,) = recorder.received
    assert got == sent  # id, type, tenant, payload, trace context, producer, occurred_at
    assert decode_payload(got) == decode_payload(sent)


async def test_handler_runs_in_the_producers_trace(bus):
    seen: list[int] = []

    async def handler(envelope: Envelope) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)

    await bus.subscribe(WORK, handler)
    tracer = TracerProvider().get_tracer("producer")
    with tracer.start_as_current_span("schedule") as producer_span:
        sent = dispatch()  # make_envelope records the current trace context
    await bus.publish(sent)

    await assert_eventually(lambda: _truthy(seen))
    assert seen == [producer_span.get_span_context().trace_id]


async def test_message_published_before_subscribing_waits_for_the_work_consumer(bus):
    sent = dispatch()
    await bus.publish(sent)

    recorder = Recorder()
    await bus.subscribe(WORK, recorder)

    await wait_for(recorder, sent.id)
    assert recorder.ids() == [sent.id]


async def test_competing_consumers_handle_each_message_exactly_once(bus):
    first, second = Recorder(), Recorder()
    await bus.subscribe(WORK, first)
    await bus.subscribe(WORK, second)
    sent = [dispatch(f"t{i}") for i in range(20)]

    for envelope in sent:
        await bus.publish(envelope)

    async def all_handled():
        return len(set(first.ids()) | set(second.ids())) == len(sent)

    await assert_eventually(all_handled)
    handled = first.ids() + second.ids()
    assert sorted(handled) == sorted(e.id for e in sent)  # none twice
    assert first.received and second.received  # both consumers took a share


async def test_broadcast_reaches_every_subscriber(bus):
    first, second = Recorder(), Recorder()
    await bus.subscribe(BROADCAST, first)
    await bus.subscribe(BROADCAST, second)
    sent = [cancel_request(f"t{i}") for i in range(3)]

    for envelope in sent:
        await bus.publish(envelope)

    for recorder in (first, second):
        for envelope in sent:
            await wait_for(recorder, envelope.id)
        assert sorted(recorder.ids()) == sorted(e.id for e in sent)


# --- failures and dead letters ------------------------------------------------


async def test_failed_handler_gets_the_message_again_then_it_is_acked(bus):
    flaky = dispatch("flaky")
    recorder = Recorder(fail={flaky.id: 1})
    await bus.subscribe(WORK, recorder)

    await bus.publish(flaky)
    await wait_for(recorder, flaky.id)

    marker = dispatch("marker")
    await bus.publish(marker)
    await wait_for(recorder, marker.id)
    assert recorder.attempts[flaky.id] == 2
    assert recorder.ids() == [flaky.id, marker.id]
    assert await bus.dead_letters(WORK) == []


async def test_always_failing_message_is_dead_lettered_after_max_deliveries(bus_factory, bus_kind):
    bus = await bus_factory(bus_kind, max_deliveries=3)
    poison = dispatch("poison")
    recorder = Recorder(fail={poison.id: -1})
    await bus.subscribe(WORK, recorder)

    await bus.publish(poison)

    dead = await drain_dead_letters(bus, WORK, expected=1)
    assert dead == [poison]
    marker = dispatch("marker")
    await bus.publish(marker)
    await wait_for(recorder, marker.id)
    assert recorder.attempts[poison.id] == 3  # and no attempt after dead-lettering
    assert await bus.dead_letters(WORK) == []  # drained


async def test_broadcast_subscribers_dead_letter_into_one_queue(bus_factory, bus_kind):
    bus = await bus_factory(bus_kind, max_deliveries=2)
    poison = cancel_request("poison")
    first, second = Recorder(fail={poison.id: -1}), Recorder(fail={poison.id: -1})
    await bus.subscribe(BROADCAST, first)
    await bus.subscribe(BROADCAST, second)

    await bus.publish(poison)

    dead = await drain_dead_letters(bus, BROADCAST, expected=2)
    assert dead == [poison, poison]  # one copy per subscriber
    assert first.attempts[poison.id] == second.attempts[poison.id] == 2


# --- concurrency and cancellation -----------------------------------------------


async def test_concurrency_bounds_handlers_in_flight(bus):
    in_flight, most, handled = [0], [0], []
    release = asyncio.Event()

    async def slow(envelope: Envelope) -> None:
        in_flight[0] += 1
        most[0] = max(most[0], in_flight[0])
        try:
            await release.wait()
        finally:
            in_flight[0] -= 1
        handled.append(envelope.id)

    # Everything is queued before the consumer exists: a bus that ignored the
    # bound would hand all five out at once.
    for i in range(5):
        await bus.publish(dispatch(f"t{i}"))
    await bus.subscribe(WORK, slow, concurrency=3)

    await assert_eventually(lambda: _truthy(in_flight[0] == 3))
    release.set()
    await assert_eventually(lambda: _truthy(len(handled) == 5))
    assert most[0] == 3


async def test_cancel_past_grace_returns_unacked_message_to_another_consumer(bus):
    started, interrupted = asyncio.Event(), asyncio.Event()

    async def stuck(envelope: Envelope) -> None:
        started.set()
        try:
            await asyncio.Event().wait()  # never returns on its own
        except asyncio.CancelledError:
            interrupted.set()
            raise

    stuck_consumer = await bus.subscribe(WORK, stuck)
    sent = dispatch()
    await bus.publish(sent)
    await assert_eventually(lambda: _truthy(started.is_set()))
    other = Recorder()
    await bus.subscribe(WORK, other)

    await stuck_consumer.cancel(grace=0)

    assert interrupted.is_set()
    await wait_for(other, sent.id, "the unacked message was not redelivered to the other consumer")


async def test_cancel_lets_in_flight_handler_finish_and_ack(bus):
    order: list[str] = []
    started, release = asyncio.Event(), asyncio.Event()

    async def handler(envelope: Envelope) -> None:
        started.set()
        await release.wait()
        order.append(f"handled {envelope.id}")

    consumer = await bus.subscribe(WORK, handler)
    sent = dispatch()
    await bus.publish(sent)
    await assert_eventually(lambda: _truthy(started.is_set()))

    cancelling = asyncio.create_task(consumer.cancel())
    # Give a cancel() that wrongly did not wait ample chance to return: several
    # event-loop turns and broker round trips (publishing a type no queue binds).
    unrouted = make_envelope("dag_run.state_changed.v1", events_pb2.DagRunStateChanged(), tenant_id="acme", producer="contract-test")
    for _ in range(10):
        await asyncio.sleep(0)
        await bus.publish(unrouted)
    assert not cancelling.done(), "cancel() returned while a handler was still running"
    release.set()
    await cancelling
    order.append("cancel returned")

    assert order == [f"handled {sent.id}", "cancel returned"]
    # It was acked: a new consumer gets the next message, not this one again.
    after = Recorder()
    await bus.subscribe(WORK, after)
    marker = dispatch("marker")
    await bus.publish(marker)
    await wait_for(after, marker.id)
    assert after.ids() == [marker.id]


async def test_cancelled_consumer_receives_nothing_more(bus):
    cancelled, remaining = Recorder(), Recorder()
    consumer = await bus.subscribe(WORK, cancelled)
    await consumer.cancel()
    await bus.subscribe(WORK, remaining)

    sent = [dispatch(f"t{i}") for i in range(3)]
    for envelope in sent:
        await bus.publish(envelope)

    for envelope in sent:
        await wait_for(remaining, envelope.id)
    assert cancelled.received == []


# --- metrics -----------------------------------------------------------------------


async def test_metrics_count_publishes_and_every_delivery_outcome(bus_factory, bus_kind):
    bus = await bus_factory(bus_kind, max_deliveries=2)
    queue = WORK.queue

    def sample(name: str, **labels) -> float:
        return REGISTRY.get_sample_value(name, labels) or 0.0

    def snapshot() -> dict[str, float]:
        return {
            "published": sample("leoflow_bus_published_total", type=DISPATCH_REQUESTED),
            "handled": sample("leoflow_bus_handler_seconds_count", queue=queue),
            **{outcome: sample("leoflow_bus_deliveries_total", queue=queue, outcome=outcome) for outcome in ("acked", "retried", "dead_lettered")},
        }

    before = snapshot()
    ok, flaky, poison = dispatch("ok"), dispatch("flaky"), dispatch("poison")
    await bus.subscribe(WORK, Recorder(fail={flaky.id: 1, poison.id: -1}))

    for envelope in (ok, flaky, poison):
        await bus.publish(envelope)

    await drain_dead_letters(bus, WORK, expected=1)
    expected = {"published": 3, "handled": 5, "acked": 2, "retried": 2, "dead_lettered": 1}

    async def counted():
        after = snapshot()
        return {key: after[key] - before[key] for key in after} == expected

    await assert_eventually(counted, message=f"metric deltas never became {expected}")


# --- isolation ---------------------------------------------------------------


async def test_namespaces_do_not_see_each_others_messages(bus_factory, bus_kind, bus_namespace):
    bus_a = await bus_factory(bus_kind, namespace=f"{bus_namespace}a")
    bus_b = await bus_factory(bus_kind, namespace=f"{bus_namespace}b")
    got_a, got_b = Recorder(), Recorder()
    await bus_a.subscribe(WORK, got_a)
    await bus_b.subscribe(WORK, got_b)
    to_a, to_b = dispatch("a"), dispatch("b")

    await bus_a.publish(to_a)
    await bus_b.publish(to_b)

    markers = {}
    for name, bus_x, recorder in (("a", bus_a, got_a), ("b", bus_b, got_b)):
        markers[name] = dispatch(f"marker-{name}")
        await bus_x.publish(markers[name])
        await wait_for(recorder, markers[name].id)
    assert got_a.ids() == [to_a.id, markers["a"].id]
    assert got_b.ids() == [to_b.id, markers["b"].id]


# --- envelopes -----------------------------------------------------------------


def test_decode_payload_refuses_unknown_type_version_and_garbage():
    good = dispatch()
    assert isinstance(decode_payload(good), events_pb2.DispatchRequested)

    unknown_type = Envelope()
    unknown_type.CopyFrom(good)
    unknown_type.type = "task_instance.dispatch_requested.v99"
    with pytest.raises(InvalidArgument, match="unknown event type"):
        decode_payload(unknown_type)

    future_version = Envelope()
    future_version.CopyFrom(good)
    future_version.envelope_version = 2
    with pytest.raises(InvalidArgument, match="unsupported envelope version"):
        decode_payload(future_version)

    garbage = Envelope()
    garbage.CopyFrom(good)
    garbage.payload = b"\xff\xff\xff"
    with pytest.raises(InvalidArgument, match="not a valid DispatchRequested"):
        decode_payload(garbage)


def test_make_envelope_refuses_a_payload_of_the_wrong_type():
    with pytest.raises(InvalidArgument, match="does not match"):
        make_envelope(DISPATCH_REQUESTED, events_pb2.CancelRequested(), tenant_id="acme", producer="test")
    with pytest.raises(InvalidArgument, match="does not match"):
        make_envelope("no.such.type.v1", events_pb2.CancelRequested(), tenant_id="acme", producer="test")


# --- an unreachable broker ------------------------------------------------------------


@pytest.mark.timeout(60)  # a hang guard, not a timing assertion
async def test_publishing_to_a_refusing_broker_address_raises_unavailable():
    bus = RabbitMQBus("amqp://guest:secret@127.0.0.1:1/", connect_timeout=2)
    with pytest.raises(Unavailable, match="unreachable") as exc:
        await bus.publish(dispatch())
    assert "secret" not in str(exc.value)
    await bus.close()


@pytest.mark.timeout(60)  # a hang guard, not a timing assertion
async def test_publishing_to_a_silent_broker_raises_unavailable_instead_of_hanging():
    # Accepts TCP connections and never speaks AMQP: the case a plain connect
    # would wait on forever.
    server = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        bus = RabbitMQBus(f"amqp://guest:guest@127.0.0.1:{port}/", connect_timeout=1)
        with pytest.raises(Unavailable, match="unreachable"):
            await bus.publish(dispatch())
        await bus.close()
    finally:
        server.close()


async def _truthy(value) -> bool:
    return bool(value)
