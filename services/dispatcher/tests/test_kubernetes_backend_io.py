"""The kubernetes backend's I/O against the pods-API stand-in, through the real
`kubernetes` client over HTTP: create (201, 409), the watch with resourceVersion
and its 410 Gone, delete, garbage collection, reconciliation at start, and two
replicas sharing one namespace."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from kubernetes import client
from leoflow_common.testing import assert_eventually, free_port
from leoflow_dispatcher.backends.base import LaunchFailed
from leoflow_dispatcher.backends.kubernetes import labels as L
from leoflow_dispatcher.backends.kubernetes.backend import KubernetesBackend
from leoflow_dispatcher.backends.kubernetes.outcome import PodLimits
from leoflow_dispatcher.backends.kubernetes.pod_spec import build_pod
from leoflow_proto.common.v1 import states_pb2

from services.dispatcher.tests.kube_fixtures import Clocks, Exits, pods_api, status_of
from services.dispatcher.tests.kube_helpers import launch_request, platform, task_execution
from services.dispatcher.tests.kube_standin import KubeStandIn

FIXTURES = Path(__file__).with_name("fixtures") / "pods"
INFRA = states_pb2.FAILURE_KIND_INFRASTRUCTURE
USER = states_pb2.FAILURE_KIND_USER_ERROR
LOST = states_pb2.FAILURE_KIND_HEARTBEAT_LOST


@pytest.fixture
async def standin():
    server = KubeStandIn()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


@pytest.fixture
async def make_backend(standin, clocks):
    """Start backends against the stand-in (stopped at the end of the test)."""
    started: list[KubernetesBackend] = []

    async def make(
        *, replica_id: str = "leoflow-dispatcher-0", exits: Exits | None = None, **overrides
    ):
        values = dict(
            image_pull_grace=120.0,
            unschedulable_timeout=600.0,
            pod_retention=600.0,
            assess_interval=0.02,
            watch_timeout=30,
            api_retries=1,
            retry_delay=0.01,
        )
        values.update(overrides)
        backend = KubernetesBackend(
            api=pods_api(values.pop("host", standin.host)),
            platform=platform(replica_id=replica_id),
            limits=PodLimits(
                image_pull_grace=values.pop("image_pull_grace"),
                unschedulable_timeout=values.pop("unschedulable_timeout"),
            ),
            kill_grace=2.0,
            page_size=values.pop("page_size", 50),
            wall_clock=lambda: clocks.wall,
            clock=lambda: clocks.mono,
            **values,
        )
        await backend.start(exits or Exits())
        started.append(backend)
        return backend

    yield make
    for backend in started:
        await backend.stop()


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


async def reported(exits: Exits, name: str, count: int = 1):
    async def check():
        return len(exits.of(name)) >= count and exits.of(name)

    return await assert_eventually(check, message=f"{count} exit(s) of {name}")


async def test_a_launched_pod_is_created_watched_and_reported_once_when_it_succeeds(
    standin, make_backend
):
    exits = Exits()
    backend = await make_backend(exits=exits)
    request = launch_request()

    await backend.launch(request)
    pod = standin.pod(request.name)
    assert pod is not None and pod["spec"]["containers"][0]["image"].endswith(
        task_execution().environment.image_digest
    )
    await standin.set_status(request.name, status_of(fixture("running")))
    await standin.set_status(request.name, status_of(fixture("succeeded")))

    (exit,) = await reported(exits, request.name)
    assert exit.exit_code == 0 and exit.cause is None
    await standin.set_status(request.name, status_of(fixture("succeeded")))  # a repeat
    assert backend.tracked()[request.name].reported
    assert len(exits.of(request.name)) == 1


@pytest.mark.parametrize(
    "fixture_name,exit_code,kind_started,words",
    [
        ("oom_killed", 137, USER, "OOMKilled"),
        ("evicted", 137, LOST, "evicted"),
        ("failed_exit_code", 1, USER, "could not register"),
        ("deadline_exceeded", 137, states_pb2.FAILURE_KIND_TIMEOUT, "activeDeadlineSeconds"),
    ],
)
async def test_failed_pods_are_reported_with_their_cause(
    standin, make_backend, fixture_name, exit_code, kind_started, words
):
    exits = Exits()
    backend = await make_backend(exits=exits)
    request = launch_request()
    await backend.launch(request)

    await standin.set_status(request.name, status_of(fixture(fixture_name)))

    (exit,) = await reported(exits, request.name)
    assert exit.exit_code == exit_code
    assert exit.cause.kind(True) == kind_started and exit.cause.kind(False) == INFRA
    assert words in exit.cause.message
    assert words in await backend.diagnostics(request.name)


async def test_a_redelivered_launch_adopts_the_pod_instead_of_starting_a_second(
    standin, make_backend
):
    exits = Exits()
    first = await make_backend(exits=Exits())
    request = launch_request()
    await first.launch(request)
    await first.stop()
    # The same replica, restarted without remembering the pod: the request comes again.
    second = await make_backend(exits=exits)
    second._pods.clear()  # noqa: SLF001 - as if the list had not seen it yet

    await second.launch(request)

    assert standin.count("create") == 2  # the second answered 409 AlreadyExists
    assert len(standin.pods) == 1
    await standin.set_status(request.name, status_of(fixture("succeeded")))
    (exit,) = await reported(exits, request.name)
    assert not exit.supervised_elsewhere


async def test_two_replicas_never_launch_the_same_try_twice(standin, make_backend):
    exits_a, exits_b = Exits(), Exits()
    a = await make_backend(replica_id="leoflow-dispatcher-0", exits=exits_a)
    b = await make_backend(replica_id="leoflow-dispatcher-1", exits=exits_b)
    request = launch_request()
    execution = request.execution

    await a.launch(request)
    await b.launch(launch_request(execution))

    assert len(standin.pods) == 1
    (elsewhere,) = await reported(exits_b, request.name)
    assert elsewhere.supervised_elsewhere
    assert request.name not in b.tracked()  # b watches only its own pods
    await standin.set_status(request.name, status_of(fixture("succeeded")))
    (exit,) = await reported(exits_a, request.name)
    assert exit.exit_code == 0
    assert len(exits_b.of(request.name)) == 1


async def test_each_replica_lists_and_watches_only_its_own_pods(standin, make_backend):
    a = await make_backend(replica_id="leoflow-dispatcher-0")
    b = await make_backend(replica_id="leoflow-dispatcher-1")
    for index in range(3):
        await a.launch(launch_request(map_index=index))
    await b.launch(launch_request(map_index=9))

    async def seen():
        return len(a.tracked()) == 3 and len(b.tracked()) == 1

    await assert_eventually(seen)
    assert set(b.tracked()) == {launch_request(map_index=9).name}


async def test_an_expired_resource_version_makes_the_watch_list_again(standin, make_backend):
    exits = Exits()
    backend = await make_backend(exits=exits)
    request = launch_request()
    await backend.launch(request)
    lists_before = backend.watcher.lists

    standin.expire_next_watch()  # resuming from its version will get 410 Gone
    await standin.drop_watches()

    async def relisted():
        return backend.watcher.expired >= 1 and backend.watcher.lists > lists_before

    await assert_eventually(relisted)
    await standin.set_status(request.name, status_of(fixture("oom_killed")))
    (exit,) = await reported(exits, request.name)
    assert exit.exit_code == 137


async def test_a_pod_deleted_while_the_watch_was_down_is_reported_from_the_relist(
    standin, make_backend
):
    exits = Exits()
    backend = await make_backend(exits=exits)
    request = launch_request()
    await backend.launch(request)
    await standin.set_status(request.name, status_of(fixture("running")))

    async def running():
        tracked = backend.tracked().get(request.name)
        return tracked is not None and tracked.phase == "Running"

    await assert_eventually(running)
    standin.pause_watches()
    await standin.remove(request.name)  # the DELETED event is never delivered:
    standin.compact()  # it expires with the history, so the watch must list again
    await standin.drop_watches()

    (exit,) = await reported(exits, request.name)
    assert backend.watcher.expired == 1
    assert "deleted before it finished" in exit.cause.message
    assert exit.cause.kind(True) == LOST and exit.cause.kind(False) == INFRA


async def test_a_pod_deleted_by_someone_else_is_reported(standin, make_backend):
    exits = Exits()
    backend = await make_backend(exits=exits)
    request = launch_request()
    await backend.launch(request)
    await standin.set_status(request.name, status_of(fixture("deleted_node_gone")))

    await standin.remove(request.name)

    (exit,) = await reported(exits, request.name)
    assert "DeletionByTaintManager" in exit.cause.message


async def test_terminate_deletes_the_pod_and_its_end_is_reported(standin, make_backend):
    exits = Exits()
    backend = await make_backend(exits=exits)
    request = launch_request()
    await backend.launch(request)

    await backend.terminate(request.name)

    (exit,) = await reported(exits, request.name)
    assert standin.pod(request.name) is None
    assert standin.count("delete") == 1
    assert exit.cause is not None


async def test_an_image_that_cannot_be_pulled_fails_after_the_grace_and_the_pod_goes(
    standin, make_backend, clocks
):
    exits = Exits()
    backend = await make_backend(exits=exits, image_pull_grace=60.0)
    request = launch_request()
    await backend.launch(request)
    status = status_of(fixture("image_pull_backoff"))
    status.pop("startTime")  # the fixture's: let the grace count from the pod's creation
    await standin.set_status(request.name, status)

    async def waiting():
        outcome = backend.tracked()[request.name].outcome
        return outcome is not None and "pulling the image failed so far" in outcome.message

    await assert_eventually(waiting)
    assert exits.of(request.name) == []
    clocks.advance(61)  # no event comes: the housekeeping pass notices

    (exit,) = await reported(exits, request.name)
    assert exit.cause.kind(True) == INFRA and "401 Unauthorized" in exit.cause.message

    async def deleted():
        return standin.pod(request.name) is None

    await assert_eventually(deleted)


async def test_finished_pods_are_garbage_collected_after_the_retention(
    standin, make_backend, clocks
):
    exits = Exits()
    backend = await make_backend(exits=exits, pod_retention=300.0)
    request = launch_request()
    await backend.launch(request)
    await standin.set_status(request.name, status_of(fixture("succeeded")))
    await reported(exits, request.name)
    assert backend.sweep() == 0  # within the retention

    clocks.advance(301)

    async def collected():
        return standin.pod(request.name) is None and request.name not in backend.tracked()

    await assert_eventually(collected)


async def test_reconciliation_at_start_adopts_running_pods_and_reports_those_that_ended(
    standin, make_backend
):
    running, succeeded, failed = (launch_request(map_index=i) for i in range(3))
    plat = platform()
    for request, status in ((running, "running"), (succeeded, "succeeded"), (failed, "oom_killed")):
        raw = client.ApiClient().sanitize_for_serialization(build_pod(request, plat))
        raw["status"] = status_of(fixture(status))
        await standin.add_pod(raw)
    exits = Exits()

    backend = await make_backend(exits=exits)  # starts with a list

    assert await backend.adopt(running.name)
    assert await backend.adopt(succeeded.name)
    assert await backend.adopt(failed.name)
    assert not await backend.adopt(launch_request(map_index=7).name)
    (ended_ok,) = await reported(exits, succeeded.name)
    (ended_oom,) = await reported(exits, failed.name)
    assert ended_ok.exit_code == 0 and ended_oom.exit_code == 137
    assert exits.of(running.name) == []
    await standin.set_status(running.name, status_of(fixture("succeeded")))
    await reported(exits, running.name)


async def test_release_deletes_a_finished_pod(standin, make_backend):
    exits = Exits()
    backend = await make_backend(exits=exits)
    request = launch_request()
    await backend.launch(request)
    await standin.set_status(request.name, status_of(fixture("succeeded")))
    await reported(exits, request.name)

    await backend.release(request.name)

    async def gone():
        return standin.pod(request.name) is None

    await assert_eventually(gone)


@pytest.mark.parametrize(
    "code,reason,message,words",
    [
        (
            403,
            "Forbidden",
            'pods is forbidden: User "system:serviceaccount:leoflow:leoflow-dispatcher" cannot create resource "pods"',
            "needs pod rights",
        ),
        (
            422,
            "Invalid",
            'Pod "x" is invalid: spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1',
            "must be less than or equal",
        ),
        (
            403,
            "Forbidden",
            'pods "x" is forbidden: exceeded quota: tasks, requested: limits.memory=1Gi',
            "exceeded quota",
        ),
    ],
)
async def test_a_pod_the_api_refuses_fails_the_launch_with_its_reason(
    standin, make_backend, code, reason, message, words
):
    backend = await make_backend()
    standin.refuse_next_create(code, reason, message)
    request = launch_request()

    with pytest.raises(LaunchFailed, match=words):
        await backend.launch(request)
    assert request.name not in backend.tracked()


async def test_an_unreachable_api_fails_the_launch(make_backend, standin):
    backend = await make_backend()
    backend._api = pods_api(f"http://127.0.0.1:{free_port()}")  # noqa: SLF001 - a dead port

    with pytest.raises(LaunchFailed, match="could not be reached"):
        await backend.launch(launch_request())


async def test_labels_select_exactly_the_replica_s_pods():
    selector = L.replica_selector("leoflow", "leoflow-dispatcher-0")

    assert selector == (
        "app.kubernetes.io/managed-by=leoflow-dispatcher,"
        "leoflow.io/deployment=leoflow,leoflow.io/dispatcher=leoflow-dispatcher-0"
    )
