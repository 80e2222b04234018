"""Warm start: the real template process (`python -P -m leoflow_agent --warm`)
forks standby agents that take one assignment each over a pipe and run it against
the control-plane doubles (leoflow_agent.testing), exactly as a cold agent would."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import sys
import time
from pathlib import Path

import pytest
from leoflow_agent.frames import FrameError
from leoflow_agent.testing import (
    ControlPlaneDoubles,
    build_execution,
    eventually,
    literal,
    write_dag,
)
from leoflow_agent.warm_start import FrameBuffer
from leoflow_proto.dag.v1 import dag_pb2

DAG = """
from airflow.sdk import dag, task
import heavy_module
import bundle_helper

@dag(schedule=None)
def demo():
    @task
    def work(n):
        import os, sys
        print("runner", os.getpid(), "parent", os.getppid())
        print("imported ahead at", heavy_module.IMPORTED_AT)
        print("bundle helper imported", bundle_helper.TIMES(), "time(s)")
        print("env", os.environ.get("AIRFLOW_CTX_TASK_ID"), os.environ.get("FROM_TASK_ENV"),
              sorted(k for k in os.environ if k.startswith("LEOFLOW_AGENT_")))
        return n * 2
    work(21)

demo()
"""

# An installed module the DAG file imports: it says when, and leaves a mark the test can wait for.
HEAVY_MODULE = "import pathlib, time\nIMPORTED_AT = time.time()\npathlib.Path(__file__ + '.imported').touch()\n"
# A module of the bundle itself: the DAG loader imports those afresh, so never ahead.
BUNDLE_HELPER = """
import pathlib
_marks = pathlib.Path(__file__).with_suffix(".imports")
with _marks.open("a") as f:
    f.write("x")
def TIMES():
    return len(_marks.read_text())
"""


def frame(message: dict) -> bytes:
    payload = json.dumps(message).encode()
    return struct.pack(">I", len(payload)) + payload


class Template:
    """A template process and its events, as the dispatcher's backend sees them."""

    def __init__(self, process: asyncio.subprocess.Process, events: asyncio.StreamReader):
        self.process = process
        self._events = events
        self.seen: list[dict] = []

    @classmethod
    async def start(cls, bundle: Path, cp: ControlPlaneDoubles, *, standbys: int = 1, **extra_env: str) -> Template:
        read_fd, write_fd = os.pipe()
        env = {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": str(bundle.parent / "site"),  # where heavy_module is "installed"
            "PYTHONUNBUFFERED": "1",
            "LEOFLOW_AGENT_BUNDLE_DIR": str(bundle),
            "LEOFLOW_AGENT_WARM_EVENTS_FD": str(write_fd),
            "LEOFLOW_AGENT_WARM_STANDBYS": str(standbys),
            "LEOFLOW_AGENT_WARM_DAG_FILE": "dag.py",
            "LEOFLOW_AGENT_WARM_CONNECT_AHEAD": ",".join(
                [cp.dispatcher_address, cp.dispatcher.xcom_address, cp.dispatcher.logs_address]
            ),
            **extra_env,
        }
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-P", "-m", "leoflow_agent", "--warm", env=env, cwd=str(bundle),
            stdin=asyncio.subprocess.PIPE, pass_fds=(write_fd,),
        )  # fmt: skip
        os.close(write_fd)
        reader = asyncio.StreamReader()
        await asyncio.get_running_loop().connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", buffering=0)
        )
        return cls(process, reader)

    async def next_event(self, kind: str, within: float = 60.0) -> dict:
        async def read() -> dict:
            while True:
                header = await self._events.readexactly(4)
                event = json.loads(await self._events.readexactly(struct.unpack(">I", header)[0]))
                self.seen.append(event)
                if event["type"] == kind:
                    return event

        return await asyncio.wait_for(read(), within)

    def send(self, message: dict) -> None:
        self.process.stdin.write(frame(message))

    def assign(self, request_id: str, cp: ControlPlaneDoubles, bundle: Path, **overrides: str) -> None:
        assignment = {
            "dispatcher_address": cp.dispatcher_address,
            "token": cp.token,
            "bundle_dir": str(bundle),
            "stdout": str(bundle / f"{request_id}.out"),
            "stderr": str(bundle / f"{request_id}.err"),
            **overrides,
        }
        self.send({"type": "assign", "id": request_id, "assignment": assignment})

    async def stop(self) -> int:
        self.process.stdin.close()
        return await asyncio.wait_for(self.process.wait(), 30)


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2] != "Z"


def children(pid: int) -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rfind(")") + 2 :].split()[1]) == pid and text[text.rfind(")") + 2] != "Z":
            found.add(int(stat.parent.name))
    return found


@pytest.fixture
def bundle(tmp_path) -> Path:
    folder = tmp_path / "bundle"
    folder.mkdir()
    write_dag(folder, DAG)
    write_dag(folder, BUNDLE_HELPER, name="bundle_helper.py")
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "heavy_module.py").write_text(HEAVY_MODULE)
    return folder.resolve()


def work_execution() -> object:
    return build_execution(task_id="work", arguments=[literal(position=0, value=21)], env={"FROM_TASK_ENV": "yes"})


async def test_a_standby_takes_its_assignment_and_runs_it_with_a_runner_forked_ahead(bundle):
    async with ControlPlaneDoubles(work_execution()) as cp:
        template = await Template.start(bundle, cp)
        standby = (await template.next_event("standby"))["pid"]
        await eventually(lambda: any(alive(pid) for pid in children(standby)), message="its runner is forked")
        await eventually((bundle.parent / "site" / "heavy_module.py.imported").exists, message="imported ahead")
        runner = children(standby).pop()
        assigned_at = time.time()

        template.assign("try-1", cp, bundle)
        accepted = await template.next_event("accepted")
        exited = await template.next_event("exited")

        assert accepted == {"type": "accepted", "id": "try-1", "pid": standby}
        assert exited == {"type": "exited", "pid": standby, "returncode": 0}
        assert cp.dispatcher.states() == ["running", "success"]
        assert cp.xcom.pushed() == {"return_value": 42}
        lines = [r.event for r in cp.logs.ordered()]
        assert f"runner {runner} parent {standby}" in lines  # the runner forked before the try existed
        imported_at = float(next(line for line in lines if line.startswith("imported ahead at")).split()[-1])
        assert imported_at < assigned_at  # the DAG file's imports were loaded ahead
        assert "bundle helper imported 1 time(s)" in lines  # but not the bundle's own modules
        # The task's environment reached user code; the agent's own settings did not.
        assert "env work yes []" in lines
        assert cp.dispatcher.registrations[0].pid == standby
        assert await template.stop() == 0


async def test_each_standby_runs_one_try_and_the_pool_keeps_its_size(bundle):
    async with ControlPlaneDoubles(work_execution()) as cp:
        template = await Template.start(bundle, cp, standbys=2)
        first = (await template.next_event("standby"))["pid"]
        await template.next_event("standby")

        template.assign("try-1", cp, bundle)
        assert (await template.next_event("accepted"))["pid"] == first
        accepted_at = len(template.seen)
        await template.next_event("exited")
        # The replacement comes at once, or, while the other standby is ready, once
        # the try has ended.
        forked = [e["pid"] for e in template.seen[accepted_at:] if e["type"] == "standby"]
        replacement = forked[0] if forked else (await template.next_event("standby"))["pid"]

        assert replacement not in (first,)
        assert not alive(first)  # never reused
        await eventually(lambda: len(children(template.process.pid)) == 2, message="two idle standbys")
        assert len(children(template.process.pid)) == 2
        assert await template.stop() == 0


async def test_a_malformed_assignment_is_refused_and_the_pool_stays_usable(bundle):
    async with ControlPlaneDoubles(work_execution()) as cp:
        template = await Template.start(bundle, cp)
        await template.next_event("standby")

        template.assign("bad", cp, bundle, token="")
        refused = await template.next_event("refused")
        template.assign("elsewhere", cp, bundle, bundle_dir="/")
        refused_elsewhere = await template.next_event("refused")

        assert refused["id"] == "bad" and "token" in refused["reason"]
        assert refused_elsewhere["id"] == "elsewhere" and "bundle" in refused_elsewhere["reason"]
        assert cp.dispatcher.calls == []  # nothing ran
        template.assign("good", cp, bundle)
        await template.next_event("accepted")
        assert (await template.next_event("exited"))["returncode"] == 0
        assert cp.dispatcher.states() == ["running", "success"]
        await template.stop()


async def test_a_bash_task_runs_and_the_unused_runner_goes(bundle):
    execution = build_execution(task_id="shout", kind=dag_pb2.OPERATOR_KIND_BASH, bash=dag_pb2.BashCommand(bash_command="echo hello"))
    async with ControlPlaneDoubles(execution) as cp:
        template = await Template.start(bundle, cp)
        standby = (await template.next_event("standby"))["pid"]
        await eventually(lambda: bool(children(standby)), message="its runner is forked")
        runner = children(standby).pop()

        template.assign("bash", cp, bundle)
        await template.next_event("accepted")
        assert (await template.next_event("exited"))["returncode"] == 0

        assert cp.dispatcher.states() == ["running", "success"]
        assert cp.xcom.pushed() == {"return_value": "hello"}
        assert not alive(runner)
        await template.stop()


async def test_draining_ends_idle_standbys_and_their_runners(bundle):
    async with ControlPlaneDoubles(work_execution()) as cp:
        template = await Template.start(bundle, cp, standbys=2)
        standbys = [(await template.next_event("standby"))["pid"] for _ in range(2)]
        await eventually(lambda: all(children(pid) for pid in standbys), message="runners forked")
        runners = [pid for standby in standbys for pid in children(standby)]

        template.send({"type": "drain"})

        assert await asyncio.wait_for(template.process.wait(), 30) == 0
        await eventually(lambda: not any(alive(pid) for pid in standbys + runners), message="all gone")
        assert cp.dispatcher.calls == []


async def test_a_template_without_its_configuration_exits_2(tmp_path):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-P", "-m", "leoflow_agent", "--warm",
        env={"PATH": os.environ["PATH"], "LEOFLOW_AGENT_BUNDLE_DIR": str(tmp_path)},
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert b"LEOFLOW_AGENT_WARM_EVENTS_FD" in stderr


def test_frames_arrive_in_pieces_and_oversized_ones_fail_closed():
    buffer = FrameBuffer(1024)
    data = frame({"type": "ready"}) + frame({"type": "accepted", "id": "x"})
    assert buffer.feed(data[:3]) == []
    assert buffer.feed(data[3:10]) == []
    assert buffer.feed(data[10:]) == [{"type": "ready"}, {"type": "accepted", "id": "x"}]
    with pytest.raises(FrameError):
        FrameBuffer(16).feed(struct.pack(">I", 17) + b"x" * 17)
    with pytest.raises(FrameError):
        FrameBuffer(1024).feed(frame({"no": "type"}))


def _assignment_frame(bundle_dir: Path, **extra) -> dict:
    return {
        "type": "assignment", "id": "a1", "dispatcher_address": "127.0.0.1:1", "token": "t",
        "bundle_dir": str(bundle_dir), "stdout": "/tmp/out", "stderr": "/tmp/err", **extra,
    }


def test_a_handed_spec_and_registration_are_parsed_and_must_come_together(tmp_path):
    import base64

    from leoflow_agent.assignment import ConfigurationError
    from leoflow_agent.standby import parse_assignment
    from leoflow_proto.dag.v1 import execution_pb2
    from leoflow_proto.dispatcher.v1 import agent_pb2

    execution = execution_pb2.TaskExecution(tenant_id="t1", dag_file="dag.py")
    execution.key.task_id = "extract"
    registration = agent_pb2.RegisterResponse(xcom_address="x:1", logs_address="l:1", heartbeat_interval_seconds=5)
    encoded = {
        "execution": base64.b64encode(execution.SerializeToString()).decode(),
        "registration": base64.b64encode(registration.SerializeToString()).decode(),
    }
    handed = parse_assignment(_assignment_frame(tmp_path, **encoded), tmp_path.resolve())
    assert handed.assignment.execution == execution
    assert handed.assignment.registration == registration
    assert parse_assignment(_assignment_frame(tmp_path), tmp_path.resolve()).assignment.execution is None

    with pytest.raises(ConfigurationError, match="come together"):
        parse_assignment(_assignment_frame(tmp_path, execution=encoded["execution"]), tmp_path.resolve())
    with pytest.raises(ConfigurationError, match="does not parse"):
        parse_assignment(_assignment_frame(tmp_path, execution="not base64!", registration=encoded["registration"]), tmp_path.resolve())
