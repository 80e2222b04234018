"""End to end: the agent's lifecycle around the task — heartbeats, being told to
stop, execution_timeout, signals, and failing to reach the control plane."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from pathlib import Path

from leoflow_agent.testing import (
    ControlPlaneDoubles,
    build_execution,
    eventually,
    literal,
    run_agent,
    start_agent,
    write_dag,
)
from leoflow_proto.common.v1 import states_pb2

# A task that records its pid and a grandchild's, then waits for a gate file forever.
WAITING_DAG = """
from airflow.sdk import dag, task
import os, pathlib, subprocess, time

@dag(schedule=None)
def demo():
    @task
    def wait(gate, pids):
        sleeper = subprocess.Popen(["sleep", "300"])
        pathlib.Path(pids).write_text(f"{os.getpid()} {sleeper.pid}")
        print("waiting", flush=True)
        while not pathlib.Path(gate).exists():
            time.sleep(0.01)
        return "released"
    wait("gate", "pids")

demo()
"""


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"


def waiting_execution(tmp_path: Path, **options):
    arguments = [literal(position=0, value=str(tmp_path / "gate")), literal(position=1, value=str(tmp_path / "pids"))]
    return build_execution(task_id="wait", arguments=arguments, **options)


def _pids(tmp_path: Path) -> list[int]:
    return [int(p) for p in (tmp_path / "pids").read_text().split()]


async def test_heartbeats_are_sent_while_the_task_runs(tmp_path):
    write_dag(tmp_path, WAITING_DAG)
    async with ControlPlaneDoubles(waiting_execution(tmp_path), heartbeat_interval_seconds=1) as cp:

        async def release_after_two_heartbeats(process):
            await eventually(lambda: len(cp.dispatcher.heartbeats) >= 2, message="two heartbeats")
            assert cp.dispatcher.terminal is None
            (tmp_path / "gate").touch()

        result = await run_agent(cp, tmp_path, during=release_after_two_heartbeats)

    assert result.returncode == 0, result.stderr
    assert cp.dispatcher.states() == ["running", "success"]
    assert all(h.sent_at.seconds > 0 for h in cp.dispatcher.heartbeats)


async def test_should_terminate_kills_the_whole_process_group(tmp_path):
    write_dag(tmp_path, WAITING_DAG)
    async with ControlPlaneDoubles(waiting_execution(tmp_path), heartbeat_interval_seconds=1, terminate_on_heartbeat=1) as cp:
        result = await run_agent(cp, tmp_path, LEOFLOW_AGENT_KILL_GRACE_SECONDS="5")

    assert result.returncode == 0, result.stderr
    terminal = cp.dispatcher.terminal
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_FAILED
    assert "asked the agent to terminate" in terminal.error_message
    assert not (tmp_path / "gate").exists()
    for pid in _pids(tmp_path):  # the runner and the sleep it started
        await eventually(lambda pid=pid: not _alive(pid), message=f"process {pid} was stopped")
    assert any("Stopping the task" in line for line in cp.logs.lines("agent"))


async def test_should_terminate_on_running_never_starts_user_code(tmp_path):
    write_dag(tmp_path, WAITING_DAG)
    async with ControlPlaneDoubles(waiting_execution(tmp_path), terminate_on_running=True) as cp:
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    assert cp.dispatcher.states() == ["running", "failed"]
    assert not (tmp_path / "pids").exists()  # the user's function never ran


async def test_execution_timeout_kills_the_task_and_reports_timeout(tmp_path):
    write_dag(tmp_path, WAITING_DAG)
    async with ControlPlaneDoubles(waiting_execution(tmp_path, execution_timeout_seconds=1.5)) as cp:
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    terminal = cp.dispatcher.terminal
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_FAILED
    assert terminal.failure_kind == states_pb2.FAILURE_KIND_TIMEOUT
    assert "execution_timeout of 1.5s" in terminal.error_message
    for pid in _pids(tmp_path):
        await eventually(lambda pid=pid: not _alive(pid), message=f"process {pid} was stopped")


async def test_sigterm_to_the_agent_stops_the_task_and_reports_failed(tmp_path):
    write_dag(tmp_path, WAITING_DAG)
    async with ControlPlaneDoubles(waiting_execution(tmp_path)) as cp:

        async def terminate_once_running(process):
            await eventually(lambda: "waiting" in cp.logs.lines("stdout"), message="the task is running")
            process.send_signal(signal.SIGTERM)

        result = await run_agent(cp, tmp_path, during=terminate_once_running)

    assert result.returncode == 0, result.stderr
    terminal = cp.dispatcher.terminal
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_FAILED
    assert terminal.error_message == "AirflowTaskTerminated: The agent received SIGTERM and stopped the task"
    for pid in _pids(tmp_path):
        await eventually(lambda pid=pid: not _alive(pid), message=f"process {pid} was stopped")


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


async def test_unreachable_dispatcher_exits_non_zero(tmp_path):
    write_dag(tmp_path, WAITING_DAG)
    async with ControlPlaneDoubles(waiting_execution(tmp_path)) as cp:
        result = await run_agent(
            cp, tmp_path, LEOFLOW_AGENT_DISPATCHER_ADDRESS=_closed_port(), LEOFLOW_AGENT_CONNECT_TIMEOUT_SECONDS="1"
        )

    assert result.returncode == 1
    assert "could not register with the dispatcher" in result.stderr
    assert cp.dispatcher.calls == []


async def test_refused_token_exits_non_zero_without_running_anything(tmp_path):
    write_dag(tmp_path, WAITING_DAG)
    async with ControlPlaneDoubles(waiting_execution(tmp_path)) as cp:
        result = await run_agent(cp, tmp_path, LEOFLOW_AGENT_TOKEN="someone-elses-token")

    assert result.returncode == 1
    assert "UNAUTHENTICATED" in result.stderr
    # Register, the spec and the secrets go out together: each may be refused, nothing follows.
    assert cp.dispatcher.reports == [] and 1 <= len(cp.dispatcher.rejected) <= 3


async def test_missing_configuration_exits_2(tmp_path):
    async with ControlPlaneDoubles(build_execution()) as cp:
        result = await run_agent(cp, tmp_path, LEOFLOW_AGENT_TOKEN="")

    assert result.returncode == 2
    assert "LEOFLOW_AGENT_TOKEN is not set" in result.stderr


async def test_missing_service_addresses_are_reported_as_infrastructure_failure(tmp_path):
    write_dag(tmp_path, WAITING_DAG)
    async with ControlPlaneDoubles(waiting_execution(tmp_path)) as cp:
        cp.dispatcher.logs_address = ""
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    assert cp.dispatcher.states() == ["failed"]
    assert cp.dispatcher.terminal.failure_kind == states_pb2.FAILURE_KIND_INFRASTRUCTURE
    assert "no xcom or logs address" in cp.dispatcher.terminal.error_message


async def test_agent_keeps_trying_until_the_dispatcher_comes_up(tmp_path):
    """A dispatcher port that first refuses the agent (accepts, then drops the
    connection), then starts serving: the agent retries and runs the task."""
    write_dag(tmp_path, WAITING_DAG)
    (tmp_path / "gate").touch()  # the task returns at once
    address = _closed_port()
    port = int(address.rsplit(":", 1)[1])
    dropped: list[int] = []

    async def drop(reader, writer):
        dropped.append(1)
        writer.close()

    not_yet = await asyncio.start_server(drop, "127.0.0.1", port)
    env = {
        **os.environ,
        "LEOFLOW_AGENT_DISPATCHER_ADDRESS": address,
        "LEOFLOW_AGENT_TOKEN": "test-agent-token",
        "LEOFLOW_AGENT_BUNDLE_DIR": str(tmp_path),
    }
    process = await start_agent(env)
    output = asyncio.ensure_future(process.communicate())
    try:
        await eventually(lambda: dropped, message="the agent's first connection attempt")
        not_yet.close()
        await not_yet.wait_closed()
        async with ControlPlaneDoubles(waiting_execution(tmp_path), token="test-agent-token", dispatcher_port=port) as cp:
            _, stderr = await asyncio.wait_for(output, 60)
    finally:
        if process.returncode is None:
            process.kill()

    assert process.returncode == 0, stderr.decode()
    assert cp.dispatcher.states() == ["running", "success"]
