"""UI figures: the calls behind the DAG list page and a DAG's grid, with 1,000
registered DAGs, through the gateway of the multi-process stack (every service its
own process, real PostgreSQL, RabbitMQ and Redis), one request at a time, p50/p99.

The DAGs are registered through the scheduler's DagRegistryService directly (a
tenth of them get a run, so the list carries latest runs). One more DAG, of 12
EmptyOperator tasks (two of them in a task group), gets 25 runs that the scheduler
finishes by itself, for the grid. The queries are the ones the Airflow 3.2.2 UI
sends (see /work/shared/research: the DAG list page, the grid's three calls).

    uv run python bench/ui.py [--dags 1000] [--requests 200]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from leoflow_common.grpc import client_channel, static_token  # noqa: E402
from leoflow_common.testing.pytest_plugin import AMQP_URL, REDIS_URL, create_database, drop_database  # noqa: E402
from leoflow_proto.dag.v1 import dag_pb2  # noqa: E402
from leoflow_proto.scheduler.v1 import registry_pb2, registry_pb2_grpc, runs_pb2, runs_pb2_grpc  # noqa: E402

from tests.e2e.stack import start_stack  # noqa: E402

TARGET_P99_MS = 50.0
GRID_DAG = "bench_grid"
GRID_RUNS = 25


def list_dag(dag_id: str, index: int) -> dag_pb2.DagSpec:
    spec = dag_pb2.DagSpec(schema_version="1", dag_id=dag_id, description=f"bench DAG {index}")
    spec.tags.extend([f"team-{index % 20}", "bench"])
    spec.schedule.kind = dag_pb2.SCHEDULE_KIND_NONE
    for task_id, upstream in (("extract", []), ("load", ["extract"])):
        task = spec.tasks.add(task_id=task_id, kind=dag_pb2.OPERATOR_KIND_EMPTY, operator_name="EmptyOperator", owner=f"owner{index % 7}")
        task.upstream_task_ids.extend(upstream)
    return spec


def grid_dag() -> dag_pb2.DagSpec:
    """start >> step_1 .. step_9 >> group(report.a >> report.b): 12 tasks."""
    spec = dag_pb2.DagSpec(schema_version="1", dag_id=GRID_DAG)
    spec.schedule.kind = dag_pb2.SCHEDULE_KIND_NONE
    spec.task_groups.add(group_id="report", label="report", prefix_group_id=True)
    tasks = [("start", [], "")] + [(f"step_{n}", ["start"], "") for n in range(1, 10)]
    tasks += [("report.a", [f"step_{n}" for n in range(1, 10)], "report"), ("report.b", ["report.a"], "report")]
    for task_id, upstream, group in tasks:
        task = spec.tasks.add(task_id=task_id, kind=dag_pb2.OPERATOR_KIND_EMPTY, operator_name="EmptyOperator", task_group_id=group)
        task.upstream_task_ids.extend(upstream)
    return spec


async def register_all(scheduler: str, token: str, count: int, concurrency: int = 16) -> float:
    """Register `count` list DAGs and the grid DAG through the scheduler; trigger
    runs (a tenth of the list DAGs, GRID_RUNS of the grid DAG). Returns seconds."""
    channel = client_channel(scheduler, static_token(token))
    registry = registry_pb2_grpc.DagRegistryServiceStub(channel)
    runs = runs_pb2_grpc.DagRunServiceStub(channel)
    started = time.perf_counter()
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            dag_id = f"bench_{index:05d}"
            await registry.RegisterDagVersion(registry_pb2.RegisterDagVersionRequest(spec=list_dag(dag_id, index)))
            if index % 10 == 0:
                await runs.TriggerDagRun(runs_pb2.TriggerDagRunRequest(dag_id=dag_id))

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await registry.RegisterDagVersion(registry_pb2.RegisterDagVersionRequest(spec=grid_dag()))
        await registry.UpdateDag(registry_pb2.UpdateDagRequest(dag_id=GRID_DAG, is_paused=False))
        for n in range(GRID_RUNS):
            await runs.TriggerDagRun(runs_pb2.TriggerDagRunRequest(dag_id=GRID_DAG, run_id=f"grid_run_{n:02d}"))
    finally:
        await channel.close()
    return time.perf_counter() - started


async def wait_grid_runs_finished(http: httpx.AsyncClient, within: float = 300) -> int:
    """Wait (at most `within` seconds) for the grid DAG's runs; how many are left."""
    deadline = time.monotonic() + within
    while True:
        body = (await http.get(f"/api/v2/dags/{GRID_DAG}/dagRuns", params={"limit": 1, "state": ["queued", "running"]})).json()
        if body["total_entries"] == 0 or time.monotonic() > deadline:
            return body["total_entries"]
        await asyncio.sleep(1)


async def time_get(http: httpx.AsyncClient, path: str, params, requests: int) -> list[float]:
    """Milliseconds of `requests` sequential GETs (after a warm-up), body read."""
    for _ in range(10):
        (await http.get(path, params=params)).raise_for_status()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        response = await http.get(path, params=params)
        _ = response.content
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return samples


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dags", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    name = f"leoflow_bench_ui_{uuid.uuid4().hex[:8]}"
    dsn = await create_database(name)
    workdir = Path(tempfile.mkdtemp(prefix="leoflow-bench-ui-"))
    stack = await start_stack(workdir, database_url=dsn, leoflow_home=workdir / "home", amqp_url=AMQP_URL, redis_url=REDIS_URL)
    try:
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as http:
            login = await http.post("/auth/token", json={"username": "admin", "password": stack.admin_password})
            login.raise_for_status()
            token = login.json()["access_token"]
            # The browser authenticates with the _token cookie, not a header.
            http.cookies.set("_token", token)
            print(f"registering {args.dags} DAGs through the scheduler's DagRegistryService ...", flush=True)
            seconds = await register_all(stack.address("scheduler"), token, args.dags)
            total = (await http.get("/api/v2/dags", params={"limit": 1})).json()["total_entries"]
            print(f"registered {total} DAGs in {seconds:.1f}s; waiting for the grid DAG's {GRID_RUNS} runs ...", flush=True)
            unfinished = await wait_grid_runs_finished(http)
            runs = (await http.get(f"/ui/grid/runs/{GRID_DAG}", params={"limit": 10, "order_by": "-run_after"})).json()
            run_ids = [run["run_id"] for run in runs]
            queries = {
                # The floor: no service call (version: no auth either; config: auth only).
                "/api/v2/version (floor)": ("/api/v2/version", {}),
                "/ui/config (floor, auth)": ("/ui/config", {}),
                "/ui/dags (DAG list page)": (
                    "/ui/dags",
                    {"dag_runs_limit": 14, "limit": 50, "offset": 0, "tags_match_mode": "any", "exclude_stale": "true", "order_by": "dag_display_name"},
                ),
                "/ui/dags (favorites, home)": ("/ui/dags", {"limit": 10, "is_favorite": "true"}),
                "/ui/dags (sorted by last run)": ("/ui/dags", {"dag_runs_limit": 14, "limit": 50, "order_by": "-last_run_start_date"}),
                "/ui/grid/structure": (f"/ui/grid/structure/{GRID_DAG}", {"include_upstream": "false", "include_downstream": "false", "limit": 10, "order_by": "-run_after"}),
                "/ui/grid/runs": (f"/ui/grid/runs/{GRID_DAG}", {"limit": 10, "order_by": "-run_after"}),
                "/ui/grid/ti_summaries (10 runs)": (f"/ui/grid/ti_summaries/{GRID_DAG}", [("run_ids", r) for r in run_ids]),
                "/ui/structure/structure_data": ("/ui/structure/structure_data", {"dag_id": GRID_DAG}),
            }
            print(f"({unfinished} grid runs unfinished; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)\n")
            print(f"{args.requests} sequential requests each, cookie auth (target p99 <= {TARGET_P99_MS:.0f} ms):")
            print(f"  {'call':<34} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
            for label, (path, params) in queries.items():
                samples = await time_get(http, path, params, args.requests)
                print(f"  {label:<34} {statistics.median(samples):8.1f} {percentile(samples, 0.99):8.1f} {max(samples):8.1f}", flush=True)
    finally:
        stack.stop()
        await drop_database(name)


if __name__ == "__main__":
    asyncio.run(main())
