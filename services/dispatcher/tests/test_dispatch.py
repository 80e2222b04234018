"""Dispatch requests end to end: the in-process bus, a real gRPC server, real
processes running the agent test double."""

from __future__ import annotations

from leoflow_common.auth import ANY_TASK_OF_RUN
from leoflow_common.bus import Subscriptions, make_envelope
from leoflow_common.states import TaskInstanceState
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.events.v1 import events_pb2

TI = TaskInstanceState


async def test_dispatch_starts_the_agent_and_publishes_running_then_success(harness):
    app = await harness.start()
    execution = harness.execution("extract")

    name = await harness.dispatch(execution)

    success = await harness.wait_event(name, TI.SUCCESS)
    running = harness.events_of(name, TI.RUNNING)
    assert len(running) == 1
    assert [e.state for e in harness.events_of(name)] == [
        TI.RUNNING.to_proto(),
        TI.SUCCESS.to_proto(),
    ]
    assert f"{name}/running" in harness.envelope_ids and f"{name}/success" in harness.envelope_ids
    record = await harness.wait_record(lambda r: "final_report" in r)
    # The agent ran from the DAG's own virtualenv, in the bundle, with a clean environment.
    assert record["argv"] == ["-m", "leoflow_agent"]
    assert record["cwd"] == str(harness.paths.bundle)
    env = record["env"]
    assert (
        env["LEOFLOW_AGENT_DISPATCHER_ADDRESS"]
        == app.advertise_address
        == f"127.0.0.1:{app.grpc_port}"
    )
    assert env["LEOFLOW_AGENT_BUNDLE_DIR"] == str(harness.paths.bundle)
    assert env["VIRTUAL_ENV"] == str(harness.paths.venv_root / harness.ENVIRONMENT_HASH)
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["DOUBLE_MODE"] == "succeed"
    assert not set(harness.HOST_SECRETS) & set(env)
    scope = harness.codec.verify(env["LEOFLOW_AGENT_TOKEN"])
    assert (scope.tenant_id, scope.task.task_id, scope.task.execution_name) == (
        harness.TENANT,
        "extract",
        name,
    )
    assert scope.task.upstream_task_ids == frozenset({"source", ANY_TASK_OF_RUN})
    # What the dispatcher told the agent.
    assert record["register"]["execution_name"] == name
    assert record["register"]["xcom_address"] == "127.0.0.1:7001"
    assert record["register"]["logs_address"] == "127.0.0.1:7002"
    assert record["register"]["heartbeat_interval_seconds"] == 1
    assert record["spec"]["key"]["task_id"] == "extract"
    assert record["final_report"] == {"acknowledged": True}
    # What the agent reported reached the event.
    assert success.key == execution.key and success.try_number == 1
    assert success.pid == record["pid"] and success.hostname
    assert success.rendered_fields["bash_command"] == "echo done"
    assert success.rendered_map_index == "first"


async def test_redelivered_request_never_starts_a_second_process(harness):
    await harness.start()
    execution = harness.execution(
        "load",
        mode="run_until_told",
        env={"DOUBLE_RELEASE_FILE": str(harness.paths.records / "go")},
    )

    name = await harness.dispatch(execution)
    await harness.dispatch(execution)
    await harness.wait_event(name, TI.RUNNING)
    await harness.dispatch(execution)
    (harness.paths.records / "go").touch()
    await harness.wait_event(name, TI.SUCCESS)
    await harness.dispatch(execution)  # after it finished, too

    async def all_handled():
        return (
            len(harness.app.supervisor.executions()) == 1
            and not harness.app.supervisor.get(name).alive
        )

    await assert_eventually(all_handled)
    assert len(harness.records()) == 1
    assert len(harness.events_of(name, TI.RUNNING)) == 1
    assert len(harness.events_of(name, TI.SUCCESS)) == 1


async def test_another_dispatch_attempt_is_a_new_execution(harness):
    await harness.start()
    first = await harness.dispatch(harness.execution("extract"))
    second = await harness.dispatch(harness.execution("extract", dispatch_attempt=1))

    assert first != second
    await harness.wait_event(first, TI.SUCCESS)
    await harness.wait_event(second, TI.SUCCESS)
    assert len(harness.records()) == 2


async def test_missing_virtualenv_fails_the_try_as_infrastructure_failure(harness):
    await harness.start()
    name = await harness.dispatch(harness.execution(environment_hash="not-built-yet"))

    failed = await harness.wait_event(name, TI.FAILED)

    assert failed.failure_kind == states_pb2.FAILURE_KIND_INFRASTRUCTURE
    assert "could not start the task" in failed.error_message
    assert str(harness.paths.venv_root / "not-built-yet") in failed.error_message
    assert harness.records() == []


async def test_missing_bundle_fails_the_try_as_infrastructure_failure(harness):
    await harness.start()
    name = await harness.dispatch(
        harness.execution(bundle_uri=(harness.paths.bundle / "gone").as_uri())
    )

    failed = await harness.wait_event(name, TI.FAILED)

    assert failed.failure_kind == states_pb2.FAILURE_KIND_INFRASTRUCTURE
    assert "bundle directory" in failed.error_message and "does not exist" in failed.error_message
    assert harness.records() == []


async def test_unusable_dispatch_request_is_dead_lettered_and_starts_nothing(harness):
    await harness.start()
    execution = harness.execution()
    execution.key.task_id = ""
    envelope = make_envelope(
        "task_instance.dispatch_requested.v1",
        events_pb2.DispatchRequested(execution=execution),
        tenant_id=harness.TENANT,
        producer="test",
    )

    await harness.bus.publish(envelope)

    async def dead_lettered():
        return await harness.bus.dead_letters(Subscriptions.DISPATCH_REQUESTS)

    dead = await assert_eventually(dead_lettered)
    assert [d.id for d in dead] == [envelope.id]
    assert harness.app.supervisor.executions() == []
    assert harness.records() == []
