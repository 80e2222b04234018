"""The kubernetes backend, unchanged, against a real cluster (opt-in):

    KUBECONFIG=~/.kube/config uv run pytest -m slow tests/e2e/test_kubernetes_cluster.py

It needs a kubeconfig whose user may create and delete namespaces and pods; it
works in a namespace of its own (leoflow-e2e-<random>, deleted at the end), and
pulls python:3.11-slim (or $LEOFLOW_E2E_IMAGE). That image has no agent, so the
pod's `python -m leoflow_agent` fails at once: exactly what the test needs to see
a real kubelet's exit code and termination message (FallbackToLogsOnError) come
back through the watch. Not collected in the regular suite (marker `slow`); run
with -m slow and no KUBECONFIG it fails, saying so. See docs/kubernetes.md.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

import pytest
from kubernetes import client
from leoflow_common.testing import assert_eventually
from leoflow_dispatcher.backends.base import ExecutionExit
from leoflow_dispatcher.backends.kubernetes.api import PodsApi, api_client_from
from leoflow_dispatcher.backends.kubernetes.backend import KubernetesBackend
from leoflow_dispatcher.backends.kubernetes.outcome import PodLimits
from leoflow_proto.common.v1 import states_pb2

from services.dispatcher.tests.kube_helpers import launch_request, platform, task_execution

pytestmark = pytest.mark.slow

IMAGE = os.environ.get("LEOFLOW_E2E_IMAGE", "python:3.11-slim")


@pytest.fixture
def kubeconfig() -> Path:
    path = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    if not path or not Path(path).expanduser().is_file():
        pytest.fail(
            "KUBECONFIG is not set to a kubeconfig file: this test runs against a real "
            "cluster only (see docs/kubernetes.md)",
            pytrace=False,
        )
    return Path(path).expanduser()


@pytest.fixture
async def cluster(kubeconfig):
    api_client = api_client_from(kubeconfig)
    core = client.CoreV1Api(api_client)
    namespace = f"leoflow-e2e-{uuid.uuid4().hex[:8]}"
    await asyncio.to_thread(
        core.create_namespace, client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
    )
    try:
        yield api_client, namespace
    finally:
        await asyncio.to_thread(core.delete_namespace, namespace)


async def test_the_backend_runs_pods_and_reads_their_outcomes_on_a_real_cluster(cluster):
    api_client, namespace = cluster
    exits: list[ExecutionExit] = []

    async def on_exit(exit: ExecutionExit) -> None:
        exits.append(exit)

    backend = KubernetesBackend(
        api=PodsApi(api_client, namespace, request_timeout=30),
        platform=platform(namespace=namespace, service_account="default", requests={}, limits={}),
        limits=PodLimits(image_pull_grace=300, unschedulable_timeout=300),
        kill_grace=5,
        pod_retention=3600,
        assess_interval=1.0,
        watch_timeout=60,
    )
    await backend.start(on_exit)
    try:
        no_agent = launch_request(task_execution(image=IMAGE, digest="", map_index=0))
        bad_image = launch_request(
            task_execution(image="leoflow-e2e/NOT_LOWERCASE:tag", digest="", map_index=1)
        )
        await backend.launch(no_agent)
        await backend.launch(bad_image)
        await backend.launch(no_agent)  # a redelivery: 409, adopted, no second pod

        async def both_ended():
            return {e.name for e in exits} == {no_agent.name, bad_image.name} and exits

        await assert_eventually(both_ended, timeout=300, interval=1.0)
        failed = next(e for e in exits if e.name == no_agent.name)
        assert failed.exit_code == 1
        assert "No module named leoflow_agent" in failed.cause.message
        assert failed.cause.kind(False) == states_pb2.FAILURE_KIND_INFRASTRUCTURE
        invalid = next(e for e in exits if e.name == bad_image.name)
        assert invalid.cause.kind(True) == states_pb2.FAILURE_KIND_INFRASTRUCTURE
        assert len([e for e in exits if e.name == no_agent.name]) == 1

        await backend.release(no_agent.name)

        async def cleaned_up():
            pods = await asyncio.to_thread(backend._api.list, backend.selector, page_size=50)  # noqa: SLF001
            return not pods.items

        await assert_eventually(cleaned_up, timeout=120, interval=1.0)
    finally:
        await backend.stop()
