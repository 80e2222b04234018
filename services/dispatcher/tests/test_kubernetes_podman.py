"""Opt-in (marker `slow`): an example DAG's image is built with podman by `leoflow
compile --build`, and the pod build_pod() makes for one of its tries is run for
real with `podman kube play`; the agent inside connects back to a real dispatcher
on the host, runs the task and reports it.

    uv run pytest -m slow services/dispatcher/tests/test_kubernetes_podman.py

Needs podman, runc, catatonit and debootstrap (apt-get install podman runc
catatonit debootstrap). Without a registry, the test builds a base image once
(debootstrap of Debian bookworm with python3, ~2 minutes, kept in podman's store as
localhost/leoflow-test-python:3.11) and runs podman with runc and explicit ulimits
(a containers.conf of its own), as ../shared/research/infra.md §5 describes.
The pod runs on the host network so that its agent reaches 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from kubernetes import client
from leoflow_common.states import TaskInstanceState
from leoflow_common.testing import free_port
from leoflow_dispatcher.backends.base import ExecutionExit, ExitHandler, LaunchFailed, LaunchRequest
from leoflow_dispatcher.backends.kubernetes.pod_spec import PodPlatform, build_pod
from leoflow_proto.common.v1.keys_pb2 import TaskInstanceKey
from leoflow_proto.dag.v1.execution_pb2 import RunContext, TaskExecution

from services.dispatcher.tests import test_real_agent
from services.dispatcher.tests.kube_helpers import platform

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
BASE_IMAGE = "localhost/leoflow-test-python:3.11"
TI = TaskInstanceState
data_services = test_real_agent.data_services  # the xcom and logs doubles (real auth)


def podman(*args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    result = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)} failed: {result.stderr.strip()}")
    return result


@pytest.fixture
def podman_env(tmp_path, monkeypatch) -> None:
    missing = [t for t in ("podman", "runc", "catatonit", "debootstrap") if not shutil.which(t)]
    if missing:
        pytest.fail(
            f"this opt-in test needs {', '.join(missing)}: apt-get install -y podman runc catatonit debootstrap",
            pytrace=False,
        )
    # Root here lacks CAP_SYS_RESOURCE: podman's default ulimits and crun fail (infra.md §5).
    conf = tmp_path / "containers.conf"
    conf.write_text(
        '[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
        '[engine]\nruntime = "runc"\n'
    )
    monkeypatch.setenv("CONTAINERS_CONF", str(conf))
    if podman("image", "exists", BASE_IMAGE, check=False).returncode != 0:
        build_base_image(tmp_path / "rootfs")


def build_base_image(rootfs: Path) -> None:
    """A python:3.11-slim stand-in from Debian's packages (no registry to pull from)."""
    subprocess.run(
        ["debootstrap", "--variant=minbase", "--include=python3,python3-pip,python-is-python3,ca-certificates",
         "bookworm", str(rootfs), "http://deb.debian.org/debian"],
        check=True, capture_output=True, timeout=900,
    )  # fmt: skip
    # The host's CA bundle, so that pip inside image builds trusts this machine's way out.
    shutil.copy("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/ca-certificates.crt")
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    subprocess.run(
        ["podman", "import",
         "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
         "--change", "ENV PIP_BREAK_SYSTEM_PACKAGES=1",
         "-", BASE_IMAGE],
        stdin=tar.stdout, check=True, capture_output=True, timeout=600,
    )  # fmt: skip
    tar.wait()


class PodmanKubePlay:
    """An ExecutionBackend (test only) that runs build_pod()'s pod with `podman kube
    play` and reports its agent container's exit code."""

    name = "podman"

    def __init__(self, pod_platform: PodPlatform, work_dir: Path):
        self._platform = pod_platform
        self._work_dir = work_dir
        self._on_exit: ExitHandler | None = None
        self._watchers: dict[str, asyncio.Task] = {}
        self.pods: dict[str, dict] = {}

    async def start(self, on_exit: ExitHandler) -> None:
        self._on_exit = on_exit
        self._work_dir.mkdir(parents=True, exist_ok=True)

    async def stop(self) -> None:
        for watcher in self._watchers.values():
            watcher.cancel()
        for name in list(self.pods):
            await asyncio.to_thread(podman, "kube", "down", str(self._manifest(name)), check=False)

    async def launch(self, request: LaunchRequest) -> None:
        pod = client.ApiClient().sanitize_for_serialization(build_pod(request, self._platform))
        self.pods[request.name] = pod
        self._manifest(request.name).write_text(yaml.safe_dump(pod))
        result = await asyncio.to_thread(
            podman,
            "kube",
            "play",
            "--network",
            "host",
            str(self._manifest(request.name)),
            check=False,
        )
        if result.returncode != 0:
            raise LaunchFailed(f"podman kube play: {result.stderr.strip()}")
        self._watchers[request.name] = asyncio.create_task(self._watch(request.name))

    async def adopt(self, name: str) -> bool:
        return False

    async def terminate(self, name: str) -> None:
        await asyncio.to_thread(podman, "pod", "stop", "-t", "5", name, check=False)

    async def diagnostics(self, name: str) -> str:
        result = await asyncio.to_thread(
            podman, "logs", "--tail", "30", f"{name}-agent", check=False
        )
        return (result.stdout + result.stderr).strip()

    async def release(self, name: str) -> None:
        await asyncio.to_thread(podman, "kube", "down", str(self._manifest(name)), check=False)

    def _manifest(self, name: str) -> Path:
        return self._work_dir / f"{name}.yaml"

    async def _watch(self, name: str) -> None:
        container = f"{name}-agent"
        while True:
            state = await asyncio.to_thread(
                podman,
                "inspect",
                container,
                "--format",
                "{{.State.Status}} {{.State.ExitCode}}",
                check=False,
            )
            status, _, code = state.stdout.strip().partition(" ")
            if status in ("exited", "stopped"):
                break
            await asyncio.sleep(0.5)
        assert self._on_exit is not None
        await self._on_exit(ExecutionExit(name, int(code), await self.diagnostics(name)))


def trial_execution(compiled) -> TaskExecution:
    """The first trial of hparam_search (lr=0.001), as the scheduler would send it."""
    task = next(t for t in compiled.spec.tasks if t.task_id == "trial")
    run_id = "manual__2026-11-22T00:00:00+00:00"
    return TaskExecution(
        tenant_id="tenant-a",
        key=TaskInstanceKey(dag_id="hparam_search", run_id=run_id, task_id="trial", map_index=-1),
        try_number=1,
        max_tries=1,
        task=task,
        environment=compiled.spec.environment,
        run=RunContext(dag_id="hparam_search", run_id=run_id),
        dag_file="dag.py",
    )


async def test_an_example_dag_image_runs_its_pod_spec_under_podman_and_reports_back(
    harness, data_services, podman_env, tmp_path, monkeypatch
):
    # Given the example DAG, built FROM the local base image by `leoflow compile --build`.
    import leoflow.compiler.image as image_module
    from leoflow.compiler.pipeline import compile_dag

    folder = tmp_path / "hparam_search"
    shutil.copytree(REPO / "examples" / "hparam_search", folder)
    for generated in ("Dockerfile", "dag.json"):
        (folder / generated).unlink(missing_ok=True)
    with (folder / "leoflow.yaml").open("a") as project:
        project.write(f"base_image: {BASE_IMAGE}\n")
    monkeypatch.setattr(image_module, "BUILDERS", ("podman",))  # not a daemon-less docker CLI
    compiled = await asyncio.to_thread(compile_dag, folder, home=tmp_path / "home", build=True)
    assert compiled.image and podman("image", "exists", compiled.image, check=False).returncode == 0

    # And a dispatcher on the host whose backend plays pods with podman.
    backend = PodmanKubePlay(platform(image_pull_policy="Never"), tmp_path / "pods")
    monkeypatch.setattr("leoflow_dispatcher.app.create_backend", lambda settings, host_env: backend)
    xcom, logs, (xcom_address, logs_address) = data_services
    port = free_port()
    await harness.start(
        grpc_bind=f"127.0.0.1:{port}",
        advertise_address=f"127.0.0.1:{port}",
        xcom_address=xcom_address,
        logs_address=logs_address,
        startup_timeout=120.0,
    )

    # When the try is dispatched.
    name = await harness.dispatch(trial_execution(compiled))

    # Then its pod ran the task as uid 10001 and the agent reported through the dispatcher.
    success = await harness.wait_event(name, TI.SUCCESS, within=180)
    assert [e.state for e in harness.events_of(name)] == [
        TI.RUNNING.to_proto(),
        TI.SUCCESS.to_proto(),
    ]
    expected = round(1.0 - (math.log10(0.001) - math.log10(0.05)) ** 2 / 10, 6)
    assert xcom.pushed[("trial", "return_value")] == {"lr": 0.001, "score": expected}
    assert success.hostname  # the pod's
    inspected = json.loads(podman("inspect", f"{name}-agent").stdout)[0]
    assert inspected["Config"]["User"] == "10001:10001"  # runAsUser:runAsGroup
    assert inspected["HostConfig"]["ReadonlyRootfs"] is True
    assert backend.pods[name]["spec"]["containers"][0]["image"] == compiled.image
