"""Scheduling figures: what the scheduler itself costs, with tasks that take no time.

The scheduler runs as its own process (python -m leoflow_scheduler) on a fresh
PostgreSQL database and RabbitMQ; this script plays an instant dispatcher (every
dispatch request is answered at once with running then success, reporting the
output length when the execution asks for it), so the figures measure
scheduling, not task execution:

- fan-out: gen -> m.expand(x=gen()) with 1,000 mapped instances -> total (fan-in):
  wall time from trigger to the run's success, and the scheduler process's CPU
  time per task instance;
- backfill: 365 daily runs of a 5-task DAG (a -> b, c, d -> e), max_active_runs
  16: wall time from POST to the last run's success.

    uv run python bench/scheduling.py [--width 1000] [--days 365] [--bus amqp|memory]

With --bus memory (no RabbitMQ) the scheduler runs inside this process on the
in-process bus, and its CPU figure also counts the instant dispatcher and the
bus (an upper bound).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from leoflow_common.auth import TokenCodec  # noqa: E402
from leoflow_common.bus import (  # noqa: E402
    TASK_INSTANCE_STATE_CHANGED,
    Subscriptions,
    create_bus,
    decode_payload,
    make_envelope,
)
from leoflow_common.grpc import client_channel, static_token  # noqa: E402
from leoflow_common.testing.pytest_plugin import (  # noqa: E402
    AMQP_URL,
    create_database,
    delete_bus_namespace,
    drop_database,
)
from leoflow_proto.common.v1 import states_pb2  # noqa: E402
from leoflow_proto.dag.v1 import dag_pb2  # noqa: E402
from leoflow_proto.events.v1 import events_pb2  # noqa: E402
from leoflow_proto.scheduler.v1 import (  # noqa: E402
    backfills_pb2,
    backfills_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    runs_pb2,
    runs_pb2_grpc,
)

JWT_SECRET = "bench-scheduling-secret-0123456789abcdef"
CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (and its waited-for children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / CLK_TCK


def task(spec: dag_pb2.DagSpec, task_id: str, upstream=(), kind=dag_pb2.OPERATOR_KIND_PYTHON) -> dag_pb2.TaskSpec:
    t = spec.tasks.add(task_id=task_id, kind=kind, upstream_task_ids=list(upstream), operator_name="_PythonDecoratedOperator")
    t.python.module, t.python.qualname = "dag", task_id
    return t


def fan_out_spec(width: int) -> dag_pb2.DagSpec:
    spec = dag_pb2.DagSpec(schema_version="1", dag_id="bench_fan_out", max_active_tasks=width + 8, is_paused_upon_creation=False)
    spec.source.relative_fileloc = "dag.py"
    task(spec, "gen")
    task(spec, "m", ["gen"]).mapping.expand["x"].xcom.task_id = "gen"
    task(spec, "total", ["m"])
    return spec


def backfill_spec(days: int) -> dag_pb2.DagSpec:
    spec = dag_pb2.DagSpec(
        schema_version="1", dag_id="bench_backfill", is_paused_upon_creation=False,
        schedule=dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_CRON, expression="@daily"),
    )  # fmt: skip
    spec.source.relative_fileloc = "dag.py"
    spec.start_date.FromDatetime(datetime.now(UTC) - timedelta(days=days + 10))
    task(spec, "a")
    for name in ("b", "c", "d"):
        task(spec, name, ["a"])
    task(spec, "e", ["b", "c", "d"])
    return spec


class InstantDispatcher:
    """Answers every dispatch request at once: running, then success."""

    def __init__(self, bus, width: int):
        self.bus, self.width, self.handled = bus, width, 0

    async def __call__(self, envelope) -> None:
        execution = decode_payload(envelope).execution
        for state in (states_pb2.TASK_INSTANCE_STATE_RUNNING, states_pb2.TASK_INSTANCE_STATE_SUCCESS):
            event = events_pb2.TaskInstanceStateChanged(key=execution.key, try_number=execution.try_number, state=state)
            if state == states_pb2.TASK_INSTANCE_STATE_SUCCESS and execution.report_output_length:
                event.mapped_lengths["return_value"] = self.width
            await self.bus.publish(make_envelope(TASK_INSTANCE_STATE_CHANGED, event, tenant_id=execution.tenant_id, producer="bench"))
        self.handled += 1


async def wait_runs_finished(runs, dag_id: str, expected: int, limit_seconds: float) -> None:
    deadline = time.monotonic() + limit_seconds
    while True:
        answer = await runs.ListDagRuns(runs_pb2.ListDagRunsRequest(dag_id=dag_id, states=[states_pb2.DAG_RUN_STATE_SUCCESS], page={"limit": 1}))
        if answer.total_entries >= expected:
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"{dag_id}: {answer.total_entries}/{expected} runs succeeded after {limit_seconds}s")
        await asyncio.sleep(0.05)


class _InProcess:
    """The scheduler as an app inside this process (--bus memory)."""

    def __init__(self, app):
        self.app, self.pid = app, os.getpid()

    def poll(self):
        return None

    def terminate(self):
        pass

    def wait(self, _timeout):
        pass


async def main(width: int, days: int, bus_kind: str) -> None:
    name = f"leoflow_bench_{uuid.uuid4().hex[:8]}"
    dsn = await create_database(name)
    namespace = f"bench.{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ, "LEOFLOW_SCHEDULER_DATABASE_URL": dsn, "LEOFLOW_JWT_SECRET": JWT_SECRET,
        "LEOFLOW_BUS_URL": AMQP_URL, "LEOFLOW_BUS_NAMESPACE": namespace, "LEOFLOW_SCHEDULER_GRPC_BIND": "127.0.0.1:50151",
        "LEOFLOW_SCHEDULER_DAGS_ARE_PAUSED_AT_CREATION": "false", "LEOFLOW_SCHEDULER_DEFAULT_POOL_SLOTS": str(width + 64),
        "LEOFLOW_SCHEDULER_LEADER_LOCK_KEY": "4242", "LEOFLOW_LOG_LEVEL": "WARNING",
    }  # fmt: skip
    # Started once, before anything is measured: blocking here costs nothing.
    if bus_kind == "memory":
        from leoflow_common.bus import InProcessBus
        from leoflow_common.settings import BusSettings, SecuritySettings
        from leoflow_scheduler.app import SchedulerApp
        from leoflow_scheduler.settings import SchedulerSettings

        bus = InProcessBus(namespace=namespace)
        await bus.start()
        settings = SchedulerSettings(
            database_url=dsn, grpc_bind="127.0.0.1:50151", dags_are_paused_at_creation=False,
            default_pool_slots=width + 64, leader_lock_key=4242,
            security=SecuritySettings(jwt_secret=JWT_SECRET), bus=BusSettings(url="memory://"),
        )  # fmt: skip
        app = SchedulerApp(settings, bus=bus)
        await app.start()
        scheduler = _InProcess(app)
    else:
        scheduler = subprocess.Popen([sys.executable, "-m", "leoflow_scheduler"], env=env)  # noqa: ASYNC220
        bus = create_bus(AMQP_URL, namespace=namespace)
        await bus.start()
    dispatcher = InstantDispatcher(bus, width)
    consumer = await bus.subscribe(Subscriptions.DISPATCH_REQUESTS, dispatcher)
    channel = client_channel("127.0.0.1:50151", static_token(TokenCodec(JWT_SECRET).mint_service("bench")))
    registry, runs = registry_pb2_grpc.DagRegistryServiceStub(channel), runs_pb2_grpc.DagRunServiceStub(channel)
    try:
        for _ in range(600):  # the scheduler migrates and starts
            if scheduler.poll() is not None:
                raise SystemExit(f"the scheduler exited ({scheduler.returncode}) before it served")
            try:
                await registry.ListDags(registry_pb2.ListDagsRequest())
                break
            except Exception:  # noqa: BLE001 - not up yet
                await asyncio.sleep(0.1)
        await registry.RegisterDagVersion(registry_pb2.RegisterDagVersionRequest(spec=fan_out_spec(width)))
        cpu0, t0 = cpu_seconds(scheduler.pid), time.perf_counter()
        await runs.TriggerDagRun(runs_pb2.TriggerDagRunRequest(dag_id="bench_fan_out"))
        await wait_runs_finished(runs, "bench_fan_out", 1, 600)
        wall, cpu = time.perf_counter() - t0, cpu_seconds(scheduler.pid) - cpu0
        tis = width + 2
        print(f"fan-out of {width} mapped instances (+ gen, total = {tis} task instances):")
        print(f"  wall time trigger -> run success: {wall:.2f} s ({tis / wall:.0f} task instances/s)")
        print(f"  scheduler CPU: {cpu:.2f} s, {cpu / tis * 1000:.2f} ms per task instance")

        if days <= 0:  # --days 0: the fan-out alone
            return
        await registry.RegisterDagVersion(registry_pb2.RegisterDagVersionRequest(spec=backfill_spec(days)))
        backfills = backfills_pb2_grpc.BackfillServiceStub(channel)
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        request = backfills_pb2.BackfillSpec(dag_id="bench_backfill", max_active_runs=16)
        request.from_date.FromDatetime(today - timedelta(days=days))
        request.to_date.FromDatetime(today - timedelta(days=1))
        cpu0, t0 = cpu_seconds(scheduler.pid), time.perf_counter()
        await backfills.CreateBackfill(backfills_pb2.CreateBackfillRequest(backfill=request))
        created = time.perf_counter() - t0
        await wait_runs_finished(runs, "bench_backfill", days, 1800)
        wall, cpu = time.perf_counter() - t0, cpu_seconds(scheduler.pid) - cpu0
        print(f"backfill of {days} daily runs of a 5-task DAG (max_active_runs 16):")
        print(f"  creating the backfill and its {days} runs: {created:.2f} s")
        print(f"  wall time POST -> last run success: {wall:.2f} s ({days * 5 / wall:.0f} task instances/s)")
        print(f"  scheduler CPU: {cpu:.2f} s, {cpu / (days * 5) * 1000:.2f} ms per task instance")
    finally:
        await consumer.cancel()
        await channel.close()
        if isinstance(scheduler, _InProcess):
            await scheduler.app.stop()
        await bus.close()
        scheduler.terminate()
        scheduler.wait(30)
        await drop_database(name)
        await delete_bus_namespace(AMQP_URL, namespace)  # its quorum queues would pile up


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--bus", choices=("amqp", "memory"), default="amqp")
    args = parser.parse_args()
    print(f"bus: {args.bus}")
    asyncio.run(main(args.width, args.days, args.bus))
