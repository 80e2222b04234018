"""Agent start-up overhead: prints figures, asserts nothing.

Runs the real agent process (`python -m leoflow_agent`) against the in-memory
control-plane doubles (leoflow_agent.testing) on loopback, for a trivial Python task
and a trivial bash task, and reports per run:

    to RUNNING   process start -> ReportState(RUNNING) received by the dispatcher
                 (interpreter + agent imports + Register + GetTaskSpec + runner start)
    to terminal  process start -> the terminal ReportState received
    exit         process start -> agent process exited

Usage: uv run python bench/agent_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from leoflow_agent.testing import ControlPlaneDoubles, build_execution, start_agent, write_dag
from leoflow_proto.dag.v1 import dag_pb2

DAG = """
from airflow.sdk import dag, task

@dag(schedule=None)
def bench():
    @task
    def noop():
        return 1
    noop()

bench()
"""


async def one_run(execution, bundle: Path) -> tuple[float, float, float]:
    async with ControlPlaneDoubles(execution, heartbeat_interval_seconds=30) as cp:
        env = cp.agent_env(str(bundle))
        started = time.monotonic()
        process = await start_agent(env)
        _, stderr = await process.communicate()
        exited = time.monotonic()
        if process.returncode != 0 or cp.dispatcher.states()[-1:] != ["success"]:
            raise SystemExit(f"agent run failed (exit {process.returncode}, states {cp.dispatcher.states()}):\n{stderr.decode()}")
        running_at = next(t for t, r in cp.dispatcher.report_times if r.state == 3)
        terminal_at = cp.dispatcher.report_times[-1][0]
    return running_at - started, terminal_at - started, exited - started


def _interpreter_baseline() -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.monotonic() - started


def _summary(label: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, int(round(0.9 * (len(ms) - 1))))]
    return f"  {label:<12} median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   min {ms[0]:7.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        bundle = Path(directory)
        write_dag(bundle, DAG)
        cases = {
            "python @task": build_execution(dag_id="bench", task_id="noop"),
            "bash": build_execution(
                dag_id="bench", task_id="noop", kind=dag_pb2.OPERATOR_KIND_BASH, bash=dag_pb2.BashCommand(bash_command="echo 1")
            ),
        }
        baseline = statistics.median(_interpreter_baseline() for _ in range(5)) * 1000
        print(f"agent start-up against loopback test doubles, {options.runs} runs each")
        print(f"  (python -c pass on this machine: {baseline:.1f} ms)")
        for name, execution in cases.items():
            await one_run(execution, bundle)  # warm the OS page cache, not measured
            figures = [await one_run(execution, bundle) for _ in range(options.runs)]
            print(name)
            print(_summary("to RUNNING", [f[0] for f in figures]))
            print(_summary("to terminal", [f[1] for f in figures]))
            print(_summary("exit", [f[2] for f in figures]))


if __name__ == "__main__":
    asyncio.run(main())
