"""The dispatcher with the kubernetes backend, whole: settings with a kubeconfig
that points the real `kubernetes` client at the pods-API stand-in, the
supervisor, the bus, and the test playing the agent inside the pod (with the
token and the address it finds in the pod's env)."""

from __future__ import annotations

import json

import pytest
from leoflow_common.grpc import client_channel, static_token
from leoflow_common.states import TaskInstanceState
from leoflow_common.testing import assert_eventually, free_port
from leoflow_dispatcher.backends.kubernetes.settings import KubernetesSettings
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dispatcher.v1 import agent_pb2, agent_pb2_grpc

from services.dispatcher.tests.kube_fixtures import status_of
from services.dispatcher.tests.kube_helpers import task_execution
from services.dispatcher.tests.kube_standin import KubeStandIn
from services.dispatcher.tests.test_kubernetes_backend_io import fixture

TI = TaskInstanceState
NAMESPACE = "leoflow-tasks"


@pytest.fixture
async def standin():
    server = KubeStandIn()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def kubeconfig(tmp_path, standin):
    path = tmp_path / "kubeconfig"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "standin", "cluster": {"server": standin.host}}],
                "users": [{"name": "dispatcher", "user": {"token": "standin-token"}}],
                "contexts": [
                    {"name": "standin", "context": {"cluster": "standin", "user": "dispatcher"}}
                ],
                "current-context": "standin",
            }
        )
    )
    return path


async def start(
    harness, kubeconfig, *, replica: str = "leoflow-dispatcher-0", port: int | None = None, **kw
):
    """A dispatcher replica with the kubernetes backend (`kw`: dispatcher settings)."""
    port = port or free_port()
    settings = dict(
        backend="kubernetes",
        grpc_bind=f"127.0.0.1:{port}",
        advertise_address=f"127.0.0.1:{port}",
        work_dir=harness.paths.work_dir / replica,
        kubernetes=KubernetesSettings(
            kubeconfig=kubeconfig, replica_id=replica, namespace=NAMESPACE
        ),
        **kw,
    )
    return await harness.start(**settings)


async def pod_of(standin, name):
    async def created():
        return standin.pod(name)

    return await assert_eventually(created, message=f"pod {name}")


def agent_in(pod) -> tuple:
    """A channel and stub calling as the agent in `pod` would (its env's address and token)."""
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    channel = client_channel(
        env["LEOFLOW_AGENT_DISPATCHER_ADDRESS"], static_token(env["LEOFLOW_AGENT_TOKEN"])
    )
    return channel, agent_pb2_grpc.AgentServiceStub(channel)


async def test_a_try_runs_as_a_pod_whose_agent_reports_and_an_oom_after_running_consumes_the_try(
    harness, standin, kubeconfig
):
    await start(harness, kubeconfig)
    name = await harness.dispatch(task_execution())
    pod = await pod_of(standin, name)
    channel, agent = agent_in(pod)
    async with channel:
        await agent.Register(agent_pb2.RegisterRequest(protocol_version=1, hostname=name))
        await agent.ReportState(
            agent_pb2.ReportStateRequest(state=states_pb2.TASK_INSTANCE_STATE_RUNNING)
        )
    await harness.wait_event(name, TI.RUNNING)

    await standin.set_status(name, status_of(fixture("oom_killed")))

    failed = await harness.wait_event(name, TI.FAILED)
    assert failed.failure_kind == states_pb2.FAILURE_KIND_USER_ERROR
    assert "OOMKilled" in failed.error_message and failed.exit_code == 137


async def test_an_image_that_cannot_be_used_fails_the_try_as_infrastructure_and_the_pod_goes(
    harness, standin, kubeconfig
):
    await start(harness, kubeconfig)
    name = await harness.dispatch(task_execution())
    await pod_of(standin, name)

    await standin.set_status(name, status_of(fixture("invalid_image_name")))

    failed = await harness.wait_event(name, TI.FAILED)
    assert failed.failure_kind == states_pb2.FAILURE_KIND_INFRASTRUCTURE
    assert "image reference is invalid" in failed.error_message

    async def deleted():
        return standin.pod(name) is None

    await assert_eventually(deleted)


async def test_a_try_without_an_image_fails_at_once_with_a_clear_message(
    harness, standin, kubeconfig
):
    await start(harness, kubeconfig)

    name = await harness.dispatch(task_execution(image="", digest=""))

    failed = await harness.wait_event(name, TI.FAILED)
    assert failed.failure_kind == states_pb2.FAILURE_KIND_INFRASTRUCTURE
    assert "leoflow compile --build --push" in failed.error_message
    assert standin.count("create") == 0


async def test_a_request_redelivered_to_another_replica_starts_no_second_pod_and_publishes_nothing(
    harness, standin, kubeconfig
):
    first = await start(harness, kubeconfig, replica="leoflow-dispatcher-0")
    second = await start(harness, kubeconfig, replica="leoflow-dispatcher-1")
    execution = task_execution()
    await first.supervisor.dispatch(execution)
    name = first.supervisor.executions()[0].name

    await second.supervisor.dispatch(execution)  # the same request, to the other replica

    async def left_to_the_first():
        other = second.supervisor.get(name)
        return other is not None and other.cancelled and not other.alive

    await assert_eventually(left_to_the_first)
    assert len(standin.pods) == 1 and standin.count("create") == 2
    pod = standin.pod(name)
    channel, agent = agent_in(pod)
    async with channel:
        await agent.Register(agent_pb2.RegisterRequest(protocol_version=1))
        for state in (
            states_pb2.TASK_INSTANCE_STATE_RUNNING,
            states_pb2.TASK_INSTANCE_STATE_SUCCESS,
        ):
            await agent.ReportState(agent_pb2.ReportStateRequest(state=state))
    await standin.set_status(name, status_of(fixture("succeeded")))
    await harness.wait_event(name, TI.SUCCESS)

    async def first_saw_the_end():
        return not first.supervisor.get(name).alive

    await assert_eventually(first_saw_the_end)
    assert [e.state for e in harness.events_of(name)] == [
        TI.RUNNING.to_proto(),
        TI.SUCCESS.to_proto(),
    ]


async def test_a_restarted_replica_reports_the_pod_that_failed_while_it_was_away(
    harness, standin, kubeconfig
):
    port = free_port()
    first = await start(harness, kubeconfig, port=port, stop_executions_on_shutdown=False)
    name = await harness.dispatch(task_execution())
    pod = await pod_of(standin, name)
    channel, agent = agent_in(pod)
    async with channel:
        await agent.Register(agent_pb2.RegisterRequest(protocol_version=1))
        await agent.ReportState(
            agent_pb2.ReportStateRequest(state=states_pb2.TASK_INSTANCE_STATE_RUNNING)
        )
    await harness.wait_event(name, TI.RUNNING)
    await first.stop()
    harness.apps.remove(first)
    assert standin.pod(name) is not None  # the pod outlived its dispatcher

    await standin.set_status(name, status_of(fixture("failed_exit_code")))
    await start(harness, kubeconfig, port=port)  # same identity, same journal

    failed = await harness.wait_event(name, TI.FAILED)
    assert failed.failure_kind == states_pb2.FAILURE_KIND_USER_ERROR  # RUNNING was remembered
    assert "exited with code 1" in failed.error_message
    assert standin.count("create") == 1
