"""REST API figures: GET /api/v2/dags?limit=100 with 10,000 registered DAGs, against
the multi-process stack (every service its own process, real PostgreSQL, RabbitMQ
and Redis), as an API client sees it: one request at a time over HTTP, p50/p99.

The DAGs are registered through the real API (POST /api/v2/dags/{id}/versions,
what `leoflow push` calls); a tenth of them get a run, so the list has latest-run
columns to carry. Besides the plain first page it times a deep page (offset 9,000),
a pattern filter and a sort on the latest run, which Airflow's UI and scripts use.

    uv run python bench/rest_api.py [--dags 10000] [--requests 300] [--concurrency 16]
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

from leoflow_common.testing.pytest_plugin import AMQP_URL, REDIS_URL, create_database, drop_database  # noqa: E402

from tests.e2e.stack import start_stack  # noqa: E402

TARGET_P99_MS = 50.0
QUERIES = {
    "first page": {"limit": 100},
    "deep page": {"limit": 100, "offset": 9000},
    "dag_id_pattern": {"limit": 100, "dag_id_pattern": "bench_07"},
    "sorted by latest run": {"limit": 100, "order_by": "-last_run_start_date"},
}


def dag_json(dag_id: str, index: int) -> dict:
    """A small compiled DAG (two bash tasks), as `leoflow compile` writes dag.json."""
    return {
        "schema_version": "1",
        "dag_id": dag_id,
        "description": f"bench DAG {index}",
        "tags": [f"team-{index % 20}", "bench"],
        "schedule": {"kind": "SCHEDULE_KIND_NONE"},
        "tasks": [
            {"task_id": "extract", "kind": "OPERATOR_KIND_BASH", "operator_name": "BashOperator", "owner": f"owner{index % 7}", "bash": {"bash_command": "true"}},
            {
                "task_id": "load",
                "kind": "OPERATOR_KIND_BASH",
                "operator_name": "BashOperator",
                "upstream_task_ids": ["extract"],
                "bash": {"bash_command": "true"},
            },
        ],
    }


async def register_all(http: httpx.AsyncClient, count: int, concurrency: int) -> float:
    """Register `count` DAGs (a tenth with a run); returns the seconds it took."""
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(count):
        queue.put_nowait(index)
    started = time.perf_counter()

    async def worker() -> None:
        while not queue.empty():
            index = queue.get_nowait()
            dag_id = f"bench_{index:05d}"
            response = await http.post(f"/api/v2/dags/{dag_id}/versions", json=dag_json(dag_id, index))
            response.raise_for_status()
            if index % 10 == 0:
                run = await http.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None})
                run.raise_for_status()
            if index and index % 1000 == 0:
                print(f"  registered {index} DAGs ({time.perf_counter() - started:.0f}s)", flush=True)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return time.perf_counter() - started


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU the processes have used so far (Linux /proc), including
    PostgreSQL's work only indirectly: it is the services' own."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


async def time_query(http: httpx.AsyncClient, params: dict, requests: int, pids: list[int]) -> tuple[list[float], float]:
    """Milliseconds of `requests` sequential GET /api/v2/dags (after a warm-up), and
    the CPU milliseconds the gateway and scheduler spent per request: the work, which
    a loaded machine does not inflate the way it inflates wall time."""
    for _ in range(10):
        (await http.get("/api/v2/dags", params=params)).raise_for_status()
    samples = []
    cpu_before = cpu_seconds(pids)
    for _ in range(requests):
        started = time.perf_counter()
        response = await http.get("/api/v2/dags", params=params)
        samples.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return samples, (cpu_seconds(pids) - cpu_before) / requests * 1000


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dags", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()

    name = f"leoflow_bench_rest_{uuid.uuid4().hex[:8]}"
    dsn = await create_database(name)
    workdir = Path(tempfile.mkdtemp(prefix="leoflow-bench-rest-"))
    stack = await start_stack(workdir, database_url=dsn, leoflow_home=workdir / "home", amqp_url=AMQP_URL, redis_url=REDIS_URL)
    try:
        async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=60) as http:
            login = await http.post("/auth/token", json={"username": "admin", "password": stack.admin_password})
            login.raise_for_status()
            http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
            print(f"registering {args.dags} DAGs through POST /api/v2/dags/{{dag_id}}/versions ...", flush=True)
            seconds = await register_all(http, args.dags, args.concurrency)
            total = (await http.get("/api/v2/dags", params={"limit": 1})).json()["total_entries"]
            print(f"registered {total} DAGs in {seconds:.1f}s ({total / seconds:.0f}/s)\n")
            print(f"GET /api/v2/dags, {args.requests} sequential requests each (target p99 <= {TARGET_P99_MS:.0f} ms on the first page):")
            pids = [s.process.pid for n, s in stack.services.items() if n in ("gateway", "scheduler") and s.alive]
            load = os.getloadavg()[0]
            print(f"  (machine load average {load:.1f} on {os.cpu_count()} CPUs; CPU ms = gateway + scheduler per request)")
            print(f"  {'query':<24} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'CPU ms':>8}  items")
            for label, params in QUERIES.items():
                samples, cpu_ms = await time_query(http, params, args.requests, pids)
                items = len((await http.get("/api/v2/dags", params=params)).json()["dags"])
                print(
                    f"  {label:<24} {statistics.median(samples):8.1f} {percentile(samples, 0.99):8.1f} "
                    f"{max(samples):8.1f} {cpu_ms:8.1f}  {items}"
                )
    finally:
        stack.stop()
        await drop_database(name)


if __name__ == "__main__":
    asyncio.run(main())
