"""Task start latency with and without the warm pool: prints figures, asserts nothing.

A real dispatcher (in-process bus, local backend) runs the real agent on a real DAG
file; the xcom and logs services are small doubles behind the real auth plumbing
(services/dispatcher/tests/test_real_agent.py). For each try:

    task start   dispatch request published -> the task's user code starts
                 (the task writes time.time() as its first statement)
    to RUNNING   the same request -> the dispatcher accepted the agent's RUNNING

Sequential tries, each after the previous one ended; "paced" leaves the pool a
moment to refill between tries, "back to back" does not (a chain of tasks).

    uv run python bench/warm_pool.py [--tries 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from google.protobuf import descriptor_pool  # noqa: E402
from google.protobuf.struct_pb2 import Value as JsonValue  # noqa: E402
from leoflow_common.auth import TokenCodec  # noqa: E402
from leoflow_common.bus import (  # noqa: E402
    DISPATCH_REQUESTED,
    InProcessBus,
    Subscriptions,
    decode_payload,
    make_envelope,
)
from leoflow_common.grpc import AGENT_ONLY, ServiceRegistration, start_grpc_server  # noqa: E402
from leoflow_common.settings import BusSettings, SecuritySettings, TelemetrySettings  # noqa: E402
from leoflow_common.states import TaskInstanceState  # noqa: E402
from leoflow_dispatcher import DispatcherApp, DispatcherSettings  # noqa: E402
from leoflow_proto.common.v1.keys_pb2 import TaskInstanceKey  # noqa: E402
from leoflow_proto.dag.v1 import dag_pb2  # noqa: E402
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution  # noqa: E402
from leoflow_proto.events.v1 import events_pb2  # noqa: E402
from leoflow_proto.logs.v1 import logs_pb2_grpc  # noqa: E402
from leoflow_proto.xcom.v1 import xcom_pb2_grpc  # noqa: E402

from services.dispatcher.tests.test_real_agent import LogsTestDouble, XComTestDouble  # noqa: E402

DAG = """
import time
from airflow.sdk import dag, task

@dag(schedule=None)
def bench_start():
    @task
    def start(marks, n):
        started = time.time()
        with open(f"{marks}/{n}", "w") as f:
            f.write(str(started))

    start("marks", 0)

bench_start()
"""


class Bench:
    """One dispatcher with a pool size, its doubles and its bus."""

    def __init__(self, work: Path, pool_size: int):
        self.work = work
        self.pool_size = pool_size
        self.marks = work / "marks"
        self.bundle = work / "bundle"
        self.running: dict[str, float] = {}
        self.ended: dict[str, asyncio.Event] = {}

    async def start(self) -> None:
        self.marks.mkdir(parents=True)
        self.bundle.mkdir()
        (self.bundle / "dag.py").write_text(textwrap.dedent(DAG))
        jwt_secret, agent_secret = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        codec = TokenCodec(jwt_secret, agent_secret)
        self.servers = []
        for servicer, add, name in (
            (XComTestDouble(), xcom_pb2_grpc.add_XComServiceServicer_to_server, "leoflow.xcom.v1.XComService"),
            (LogsTestDouble(), logs_pb2_grpc.add_LogServiceServicer_to_server, "leoflow.logs.v1.LogService"),
        ):
            methods = [m.name for m in descriptor_pool.Default().FindServiceByName(name).methods]
            registration = ServiceRegistration(add, servicer, name, {m: AGENT_ONLY for m in methods})
            self.servers.append(await start_grpc_server([registration], bind="127.0.0.1:0", codec=codec))
        self.bus = InProcessBus(namespace=f"bench-{uuid.uuid4().hex[:8]}")
        await self.bus.start()
        await self.bus.subscribe(Subscriptions.SCHEDULER_TASK_EVENTS, self._on_event)
        settings = DispatcherSettings(
            grpc_bind="127.0.0.1:0",
            xcom_address=f"127.0.0.1:{self.servers[0].port}",
            logs_address=f"127.0.0.1:{self.servers[1].port}",
            scheduler_address="",  # no scheduler here: tasks get no variables or connections
            work_dir=self.work / "dispatcher",
            venv_root=self.work / "venvs",
            fallback_python=sys.executable,
            warm_pool_size=self.pool_size,
            security=SecuritySettings(jwt_secret=jwt_secret, agent_token_secret=agent_secret),
            bus=BusSettings(url="memory://"),
            telemetry=TelemetrySettings(),
        )
        host_env = {"PATH": "/usr/bin:/bin", "HOME": str(self.work)}
        if os.environ.get("LEOFLOW_SPINE_TRACE"):  # the trace reaches the agents (bench/spine.py reads it)
            host_env["LEOFLOW_SPINE_TRACE"] = os.environ["LEOFLOW_SPINE_TRACE"]
        self.app = DispatcherApp(settings, bus=self.bus, host_env=host_env)
        await self.app.start()

    async def stop(self) -> None:
        await self.app.stop()
        await self.bus.close()
        for server in self.servers:
            await server.stop(grace=0)

    async def _on_event(self, envelope) -> None:
        event = decode_payload(envelope)
        if event.state == TaskInstanceState.RUNNING.to_proto():
            self.running.setdefault(event.key.run_id, time.time())
        elif event.key.run_id in self.ended:
            self.ended[event.key.run_id].set()

    def execution(self, n: int) -> TaskExecution:
        run_id = f"run-{n}"
        task = dag_pb2.TaskSpec(task_id="start", kind=dag_pb2.OPERATOR_KIND_PYTHON, do_xcom_push=False)
        task.python.module, task.python.qualname = "dag", "start"
        task.arguments.append(dag_pb2.Argument(position=0, value=dag_pb2.Value(literal=JsonValue(string_value=str(self.marks)))))
        task.arguments.append(dag_pb2.Argument(position=1, value=dag_pb2.Value(literal=JsonValue(number_value=n))))
        execution = TaskExecution(
            tenant_id="bench",
            key=TaskInstanceKey(dag_id="bench_start", run_id=run_id, task_id="start", map_index=-1),
            try_number=1,
            max_tries=1,
            task=task,
            dag_file="dag.py",
        )
        execution.run.dag_id, execution.run.run_id = "bench_start", run_id
        execution.environment.bundle_uri = self.bundle.as_uri()
        return execution

    async def one(self, n: int) -> tuple[float, float]:
        """(task start, to RUNNING) of try `n`, in seconds."""
        execution = self.execution(n)
        self.ended[execution.key.run_id] = asyncio.Event()
        published = time.time()
        await self.bus.publish(make_envelope(DISPATCH_REQUESTED, events_pb2.DispatchRequested(execution=execution),
                                             tenant_id="bench", producer="bench"))
        await asyncio.wait_for(self.ended[execution.key.run_id].wait(), 60)
        started = float((self.marks / str(n)).read_text())  # noqa: ASYNC240 - a bench
        return started - published, self.running[execution.key.run_id] - published

    async def warm_up(self) -> None:
        """One try (it starts the pool), then wait until the pool has a standby."""
        await self.one(10_000)
        pools = self.app.backend._pools
        deadline = time.monotonic() + 60
        while pools is not None and not any(t.warm for t in pools.templates()):
            if time.monotonic() > deadline:
                raise SystemExit("the warm pool never became ready")
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # its standbys are connected and their runners forked


def summary(label: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]
    return f"  {label:<13} median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   min {ms[0]:7.1f} ms"


async def measure(pool_size: int, tries: int, pause: float) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory() as directory:
        bench = Bench(Path(directory), pool_size)
        await bench.start()
        try:
            await bench.warm_up()
            figures = []
            for n in range(tries):
                figures.append(await bench.one(n))
                await asyncio.sleep(pause)
        finally:
            await bench.stop()
    return [f[0] for f in figures], [f[1] for f in figures]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tries", type=int, default=20)
    options = parser.parse_args()
    print(f"task start latency, {options.tries} sequential tries each (real dispatcher and agent, doubles for xcom/logs)")
    for name, size, pause in (("cold (no pool)", 0, 0.3), ("warm pool, paced", 2, 0.3), ("warm pool, back to back", 2, 0.0)):
        starts, running = await measure(size, options.tries, pause)
        print(name)
        print(summary("task start", starts))
        print(summary("to RUNNING", running))
        sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())
