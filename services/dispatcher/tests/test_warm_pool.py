"""The local backend's warm pool with the REAL agent: a standby agent takes the
assignment, every try runs in exactly one process of its own, redelivery starts
nothing more, idle pools are reaped, a new DAG version drains the old pool, and a
broken pool falls back to a cold start. (Speed is bench/warm_pool.py's business.)"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import textwrap

import pytest
from google.protobuf.struct_pb2 import Value as JsonValue
from leoflow_common.states import TaskInstanceState
from leoflow_common.testing import assert_eventually
from leoflow_dispatcher import metrics
from leoflow_dispatcher.api.agent_servicer import AgentServiceServicer
from leoflow_dispatcher.backends.local.processes import process_tree
from leoflow_proto.dag.v1 import dag_pb2

from services.dispatcher.tests.conftest import pid_alive
from services.dispatcher.tests.test_real_agent import (  # noqa: F401 - data_services is a fixture
    DAG_FILE,
    data_services,
    python_task,
)

TI = TaskInstanceState
ROWS = dag_pb2.Argument(position=0, value=dag_pb2.Value(literal=JsonValue(number_value=3)))


async def eventually(predicate, *, within: float = 10.0, message: str = ""):
    """assert_eventually for a plain predicate."""

    async def check():
        return predicate()

    return await assert_eventually(check, timeout=within, message=message)


def starts(kind: str) -> float:
    return metrics.LOCAL_STARTS.labels(kind)._value.get()


async def start_pooled(harness, data_services, **settings):  # noqa: F811
    _, _, (xcom_address, logs_address) = data_services
    (harness.paths.bundle / "dag.py").write_text(textwrap.dedent(DAG_FILE))
    values = dict(warm_pool_size=2, warm_pool_idle_timeout=60.0)
    values.update(settings)
    return await harness.start(
        xcom_address=xcom_address, logs_address=logs_address, fallback_python=sys.executable, **values
    )


def pools(app):
    return app.backend._pools


async def warm_template(app):
    """The one template of the pool, once it has a ready standby to give."""

    async def ready():
        found = [t for t in pools(app).templates() if t.warm]
        return found[0] if found else None

    return await assert_eventually(ready, timeout=60, message="a warm template")


def task(harness, task_id: str, *, run: str = "manual__2026-01-01", bundle=None):
    execution = python_task(harness, task_id, *([ROWS] if task_id == "extract" else []))
    execution.key.run_id = execution.run.run_id = run
    if bundle is not None:
        execution.environment.bundle_uri = bundle.as_uri()
    return execution


def idle_standbys(template) -> set[int]:
    """The template's children that run no try (a standby per pool slot)."""
    children = {p.pid for p in process_tree({template.process.pid})[template.process.pid]}
    direct = {pid for pid in children if _parent(pid) == template.process.pid}
    return direct - template.accepted_pids


def _parent(pid: int) -> int | None:
    try:
        stat = open(f"/proc/{pid}/stat").read()
    except OSError:
        return None
    return int(stat[stat.rfind(")") + 2 :].split()[1])


async def test_a_warm_standby_takes_the_assignment(harness, data_services):  # noqa: F811
    xcom, _, _ = data_services
    app = await start_pooled(harness, data_services)
    first = await harness.dispatch(task(harness, "extract", run="r1"))  # cold: the pool starts
    await harness.wait_event(first, TI.SUCCESS, within=60)
    template = await warm_template(app)
    warm_before = starts("warm")

    name = await harness.dispatch(task(harness, "extract", run="r2"))
    success = await harness.wait_event(name, TI.SUCCESS, within=60)

    assert starts("warm") == warm_before + 1
    assert success.pid in template.standbys  # the standby forked before the try existed
    assert xcom.pushed[("extract", "return_value")] == {"rows": 3}
    await eventually(lambda: not pid_alive(success.pid), message="the standby exits after its try")


async def test_every_try_runs_in_one_process_of_its_own(harness, data_services):  # noqa: F811
    app = await start_pooled(harness, data_services, warm_pool_size=1)
    await harness.wait_event(await harness.dispatch(task(harness, "extract", run="r0")), TI.SUCCESS, within=60)
    pids = []
    for run in ("r1", "r2", "r3"):
        await warm_template(app)
        name = await harness.dispatch(task(harness, "extract", run=run))
        pids.append((await harness.wait_event(name, TI.SUCCESS, within=60)).pid)

    assert len(set(pids)) == 3  # never reused
    template = pools(app).templates()[0]
    assert set(pids) <= set(template.standbys)
    for pid in pids:
        await eventually(lambda pid=pid: not pid_alive(pid), message=f"process {pid} ended")
    # A pool never holds more than its size.
    await eventually(lambda: len(idle_standbys(template)) == 1)
    assert len(idle_standbys(template)) <= 1


async def test_a_redelivered_request_starts_no_second_process(harness, data_services):  # noqa: F811
    app = await start_pooled(harness, data_services)
    await harness.wait_event(await harness.dispatch(task(harness, "extract", run="r0")), TI.SUCCESS, within=60)
    template = await warm_template(app)
    execution = task(harness, "wait_forever", run="r1")
    warm_before, cold_before = starts("warm"), starts("cold")

    name = await harness.dispatch(execution)
    await harness.dispatch(execution)  # redelivered while it runs
    await harness.wait_event(name, TI.RUNNING, within=60)
    await harness.dispatch(execution)  # and again

    assert starts("warm") + starts("cold") == warm_before + cold_before + 1
    assert len(template.accepted_pids) == 1
    assert len(harness.events_of(name, TI.RUNNING)) == 1
    await harness.cancel(execution)
    await eventually(lambda: not template.accepted_pids, within=30, message="the try ended")


async def test_an_idle_pool_is_reaped(harness, data_services):  # noqa: F811
    app = await start_pooled(harness, data_services, warm_pool_idle_timeout=1.0)
    await harness.wait_event(await harness.dispatch(task(harness, "extract")), TI.SUCCESS, within=60)
    # (Not waiting for it to be warm: on a busy machine it may be reaped first.)
    template = pools(app).templates()[0]

    await eventually(lambda: template.process.poll() is not None, within=60, message="template exits")

    assert pools(app).templates() == []
    assert not [pid for pid in template.standbys if pid_alive(pid)]
    assert not [pid for pid in process_tree({template.process.pid})[template.process.pid]]


async def test_a_new_dag_version_drains_the_previous_pool(harness, data_services, tmp_path):  # noqa: F811
    app = await start_pooled(harness, data_services)
    await harness.wait_event(await harness.dispatch(task(harness, "extract", run="r1")), TI.SUCCESS, within=60)
    old = await warm_template(app)
    new_bundle = tmp_path / "bundle-v2"
    new_bundle.mkdir()
    (new_bundle / "dag.py").write_text(textwrap.dedent(DAG_FILE))

    name = await harness.dispatch(task(harness, "extract", run="r2", bundle=new_bundle))
    await harness.wait_event(name, TI.SUCCESS, within=60)

    await eventually(lambda: old.process.poll() is not None, within=30, message="old template exits")
    assert not [pid for pid in old.standbys if pid_alive(pid)]
    new = await warm_template(app)
    assert new is not old and new.key.bundle == str(new_bundle)


async def test_a_template_that_died_falls_back_to_a_cold_start(harness, data_services):  # noqa: F811
    app = await start_pooled(harness, data_services)
    await harness.wait_event(await harness.dispatch(task(harness, "extract", run="r1")), TI.SUCCESS, within=60)
    template = await warm_template(app)
    os.killpg(template.process.pid, signal.SIGKILL)
    template.process.wait()
    cold_before = starts("cold")

    name = await harness.dispatch(task(harness, "extract", run="r2"))
    success = await harness.wait_event(name, TI.SUCCESS, within=60)

    assert starts("cold") == cold_before + 1
    assert success.pid not in template.standbys


async def test_a_template_that_stops_answering_is_killed_and_the_try_starts_cold(harness, data_services):  # noqa: F811
    app = await start_pooled(harness, data_services)
    await harness.wait_event(await harness.dispatch(task(harness, "extract", run="r1")), TI.SUCCESS, within=60)
    template = await warm_template(app)
    pools(app).handover_timeout = 0.5
    os.kill(template.process.pid, signal.SIGSTOP)  # alive, but it reads nothing any more
    standbys = set(idle_standbys(template))
    cold_before = starts("cold")
    try:
        name = await harness.dispatch(task(harness, "extract", run="r2"))
        success = await harness.wait_event(name, TI.SUCCESS, within=60)
    finally:
        with contextlib.suppress(ProcessLookupError):  # killed and reaped by then, as it should be
            os.kill(template.process.pid, signal.SIGCONT)

    assert starts("cold") == cold_before + 1
    assert success.pid not in template.standbys
    # Nothing it started may still take the withdrawn assignment.
    await eventually(lambda: not [pid for pid in standbys if pid_alive(pid)], message="standbys killed")


@pytest.mark.parametrize("size", [0])
async def test_no_pool_when_the_size_is_zero(harness, data_services, size):  # noqa: F811
    app = await start_pooled(harness, data_services, warm_pool_size=size)
    name = await harness.dispatch(task(harness, "extract"))
    await harness.wait_event(name, TI.SUCCESS, within=60)
    assert pools(app) is None


async def test_the_number_of_pools_is_bounded(harness, data_services, tmp_path):  # noqa: F811
    app = await start_pooled(harness, data_services)
    pools(app).max_templates = 1
    await harness.wait_event(await harness.dispatch(task(harness, "extract", run="r1")), TI.SUCCESS, within=60)
    first = pools(app).templates()[0]
    other_bundle = tmp_path / "other-dag"
    other_bundle.mkdir()
    (other_bundle / "dag.py").write_text(textwrap.dedent(DAG_FILE).replace("sales", "another_dag"))
    other = task(harness, "extract", run="r2", bundle=other_bundle)
    other.key.dag_id = other.run.dag_id = "another_dag"

    await harness.wait_event(await harness.dispatch(other), TI.SUCCESS, within=60)

    assert [t.key.bundle for t in pools(app).templates()] == [str(other_bundle)]
    await eventually(lambda: first.process.poll() is not None, within=60, message="the older pool is drained")


async def test_a_warm_hand_over_carries_the_spec_so_the_agent_never_asks_for_it(harness, data_services, monkeypatch):  # noqa: F811
    asked: list[str] = []
    for method in ("Register", "GetTaskSpec"):
        original = getattr(AgentServiceServicer, method)

        async def counted(self, request, context, _original=original, _method=method):
            asked.append(_method)
            return await _original(self, request, context)

        monkeypatch.setattr(AgentServiceServicer, method, counted)
    app = await start_pooled(harness, data_services)
    first = await harness.dispatch(task(harness, "extract", run="r1"))  # cold: asks for both
    await harness.wait_event(first, TI.SUCCESS, within=60)
    assert sorted(asked) == ["GetTaskSpec", "Register"]
    await warm_template(app)
    asked.clear()

    name = await harness.dispatch(task(harness, "extract", run="r2"))
    success = await harness.wait_event(name, TI.SUCCESS, within=60)

    assert asked == []  # the assignment carried the TaskExecution and Register's answer
    assert success.pid in pools(app).templates()[0].standbys
    assert app.supervisor.get(name).pid == success.pid  # known from its first report


async def test_a_hand_over_bigger_than_the_pipe_arrives_whole(harness, data_services):  # noqa: F811
    app = await start_pooled(harness, data_services)
    await harness.wait_event(await harness.dispatch(task(harness, "extract", run="r1")), TI.SUCCESS, within=60)
    await warm_template(app)
    execution = task(harness, "extract", run="r2")
    # A trigger conf of 300 KB: the assignment is several times a pipe's buffer.
    execution.run.conf.update({"blob": "x" * 300_000})
    name = await harness.dispatch(execution)
    success = await harness.wait_event(name, TI.SUCCESS, within=60)
    assert success.pid in pools(app).templates()[0].standbys
