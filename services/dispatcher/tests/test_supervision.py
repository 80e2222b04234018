"""Supervision of executions with real processes: agents that die, go silent,
overrun their execution_timeout, or are cancelled; and a dispatcher that stops."""

from __future__ import annotations

import os
import signal

from leoflow_common.states import TaskInstanceState
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dispatcher.v1 import agent_pb2

TI = TaskInstanceState


async def _gone(harness, *pids: int) -> None:
    async def all_gone():
        return not any(harness.pid_alive(pid) for pid in pids)

    await assert_eventually(all_gone, message=f"processes {pids} still running")


async def _process_ended(harness, app, name: str) -> None:
    async def ended():
        execution = app.supervisor.get(name)
        return execution is not None and not execution.alive

    await assert_eventually(ended, message=f"{name} still alive")


async def test_agent_crashing_before_running_is_an_infrastructure_failure(harness):
    await harness.start()
    name = await harness.dispatch(harness.execution("extract", mode="crash_before_running"))

    failed = await harness.wait_event(name, TI.FAILED)

    assert failed.failure_kind == states_pb2.FAILURE_KIND_INFRASTRUCTURE
    assert failed.exit_code == 3
    assert "agent exited with code 3 before user code started" in failed.error_message
    assert "boom before user code" in failed.error_message  # the tail of its stderr
    assert harness.events_of(name, TI.RUNNING) == []


async def test_agent_crashing_after_running_is_a_user_error_with_its_exit_code(harness):
    await harness.start()
    name = await harness.dispatch(harness.execution("extract", mode="crash_after_running"))

    failed = await harness.wait_event(name, TI.FAILED)

    assert failed.failure_kind == states_pb2.FAILURE_KIND_USER_ERROR
    assert failed.exit_code == 7
    assert "agent exited with code 7 without reporting" in failed.error_message
    assert "ValueError: boom in user code" in failed.error_message
    assert [e.state for e in harness.events_of(name)] == [
        TI.RUNNING.to_proto(),
        TI.FAILED.to_proto(),
    ]


async def test_silent_agent_is_killed_and_failed_as_heartbeat_lost(harness):
    app = await harness.start(heartbeat_interval=0.5, heartbeat_timeout=1.0)
    env = {"DOUBLE_SPAWN_CHILD": "1", "DOUBLE_CHILD_NEW_SESSION": "1"}
    name = await harness.dispatch(
        harness.execution("extract", mode="silent_after_running", env=env)
    )

    failed = await harness.wait_event(name, TI.FAILED)

    assert failed.failure_kind == states_pb2.FAILURE_KIND_HEARTBEAT_LOST
    assert "no heartbeat for" in failed.error_message
    record = harness.records()[0]
    await _gone(harness, record["pid"], record["child_pid"])
    await _process_ended(harness, app, name)
    assert len(harness.events_of(name, TI.FAILED)) == 1


async def test_execution_timeout_kills_the_whole_process_group(harness):
    app = await harness.start()
    execution = harness.execution(
        "slow", mode="run_until_told", execution_timeout=0.5, env={"DOUBLE_SPAWN_CHILD": "1"}
    )
    name = await harness.dispatch(execution)

    failed = await harness.wait_event(name, TI.FAILED)

    assert failed.failure_kind == states_pb2.FAILURE_KIND_TIMEOUT
    assert "execution_timeout of 0.5s exceeded" in failed.error_message
    record = harness.records()[0]
    await _gone(harness, record["pid"], record["child_pid"])
    await _process_ended(harness, app, name)
    # The agent kept heartbeating: only the timeout ended it.
    assert len(harness.events_of(name, TI.FAILED)) == 1


async def test_what_a_crashed_agent_started_in_its_own_session_is_killed(harness):
    app = await harness.start()
    env = {"DOUBLE_SPAWN_CHILD": "1", "DOUBLE_CHILD_NEW_SESSION": "1"}
    name = await harness.dispatch(harness.execution("orphaning", mode="run_until_told", env=env))
    await harness.wait_event(name, TI.RUNNING)
    record = harness.records()[0]

    async def child_seen():
        return record["child_pid"] in app.backend.known_descendants(name)

    await assert_eventually(child_seen)
    os.kill(record["pid"], signal.SIGKILL)  # the agent dies; its child is in another session

    failed = await harness.wait_event(name, TI.FAILED)
    assert failed.failure_kind == states_pb2.FAILURE_KIND_USER_ERROR
    assert "killed by SIGKILL" in failed.error_message
    await _gone(harness, record["child_pid"])


async def test_agent_ignoring_sigterm_is_killed_after_the_grace(harness):
    app = await harness.start(kill_grace=0.3)
    execution = harness.execution(
        "stubborn",
        mode="run_until_told",
        execution_timeout=0.3,
        env={"DOUBLE_IGNORE_SIGTERM": "1", "DOUBLE_SPAWN_CHILD": "1"},
    )
    name = await harness.dispatch(execution)

    await harness.wait_event(name, TI.FAILED)

    record = harness.records()[0]
    await _gone(harness, record["pid"], record["child_pid"])
    await _process_ended(harness, app, name)


async def test_cancel_kills_the_execution_and_publishes_nothing_more(harness):
    app = await harness.start()
    execution = harness.execution("long", mode="run_until_told", env={"DOUBLE_SPAWN_CHILD": "1"})
    name = await harness.dispatch(execution)
    await harness.wait_event(name, TI.RUNNING)

    await harness.cancel(execution)

    record = harness.records()[0]
    await _gone(harness, record["pid"], record["child_pid"])
    await _process_ended(harness, app, name)
    # Its agent is told to stop, and whatever it reports now is not published.
    channel, stub = harness.agent(harness.token(execution))
    async with channel:
        heartbeat = await stub.Heartbeat(agent_pb2.HeartbeatRequest())
        late = await stub.ReportState(
            agent_pb2.ReportStateRequest(state=states_pb2.TASK_INSTANCE_STATE_SUCCESS)
        )
    assert heartbeat.should_terminate
    assert not late.acknowledged and late.should_terminate
    assert [e.state for e in harness.events_of(name)] == [TI.RUNNING.to_proto()]


async def test_cancel_of_a_try_another_replica_runs_changes_nothing_here(harness):
    app = await harness.start()
    running = harness.execution("long", mode="idle")
    name = await harness.dispatch(running)
    await harness.wait_record()

    await harness.cancel(harness.execution("long", try_number=2))
    await harness.cancel(harness.execution("other"))

    # A cancel of this very try afterwards still arrives (same consumer, in order).
    await harness.cancel(running)
    await _process_ended(harness, app, name)
    assert app.supervisor.get(name).cancelled
    assert harness.events_of(name) == []


async def test_stopping_the_dispatcher_stops_its_executions_as_infrastructure_failures(harness):
    app = await harness.start()
    name = await harness.dispatch(
        harness.execution("long", mode="run_until_told", env={"DOUBLE_SPAWN_CHILD": "1"})
    )
    await harness.wait_event(name, TI.RUNNING)

    await app.stop()

    failed = await harness.wait_event(name, TI.FAILED)
    assert failed.failure_kind == states_pb2.FAILURE_KIND_INFRASTRUCTURE
    assert "shut down" in failed.error_message
    record = harness.records()[0]
    await _gone(harness, record["pid"], record["child_pid"])


async def test_finished_executions_are_forgotten_after_the_retention(harness):
    app = await harness.start(finished_retention=0.0)
    name = await harness.dispatch(harness.execution("quick"))
    await harness.wait_event(name, TI.SUCCESS)

    async def forgotten():
        return app.supervisor.get(name) is None

    await assert_eventually(forgotten)
    assert not (harness.paths.work_dir / "executions" / name).exists()
    assert not (harness.paths.work_dir / "processes" / name).exists()
