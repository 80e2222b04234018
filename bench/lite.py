"""Lite figures: prints them, asserts nothing.

    cold start     `leoflow lite` on an empty HOME -> the UI answers / the examples are
                   registered (initdb, migrations, the examples' virtualenv built)
    warm start     the same, second start on that home
    save -> version  a DAG file saved -> its new version registered (polled every 10 ms)
    task start     the scheduler queued the task -> its user code starts (the task writes
                   time.time() first; queued_when from the REST API), with and without
                   the warm pool (LEOFLOW_DISPATCHER_WARM_POOL_SIZE=0)
    idle           the whole process tree (Lite, PostgreSQL, warm agents): PSS memory
                   and CPU over a quiet minute, after a run

    uv run python bench/lite.py [--tries 10] [--idle-seconds 60] [--cold-uv-cache]

--cold-uv-cache gives the cold start an empty uv cache too (a first install: the
agent's wheels are downloaded); without it the machine's uv cache is used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import datetime
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
LEOFLOW = Path(sys.executable).parent / "leoflow"
PASSWORD = re.compile(r"admin password: (\S+)")
READY = "Leoflow Lite is ready"


class Lite:
    """`leoflow lite` as a user starts it, with timestamps of what it printed."""

    def __init__(self, home: Path, port: int, env: dict[str, str]):
        self.home, self.port, self.env = home, port, env
        self.url = f"http://127.0.0.1:{port}"
        self.log = home / "lite.log"
        self.process: subprocess.Popen | None = None
        self.password = ""

    async def start(self) -> dict[str, float]:
        """Start; seconds until the UI answered and until Lite said it was ready."""
        started = time.perf_counter()
        self.process = self._spawn()
        figures: dict[str, float] = {}
        async with httpx.AsyncClient(timeout=2) as http:
            while "ready" not in figures:
                if self.process.poll() is not None:
                    raise RuntimeError(f"leoflow lite exited:\n{self.log.read_text()[-2000:]}")
                if "ui" not in figures:
                    try:
                        if (await http.get(f"{self.url}/")).status_code == 200:
                            figures["ui"] = time.perf_counter() - started
                    except httpx.HTTPError:
                        pass
                text = self.log.read_text(errors="replace")
                if READY in text:
                    figures["ready"] = time.perf_counter() - started
                if match := PASSWORD.search(text):
                    self.password = match.group(1)
                await asyncio.sleep(0.01)
        figures.setdefault("ui", figures["ready"])
        return figures

    def _spawn(self) -> subprocess.Popen:
        with self.log.open("wb") as log:
            return subprocess.Popen(
                [str(LEOFLOW), "lite", str(self.home / "leoflow"), "--port", str(self.port)],
                env={**os.environ, **self.env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            self.process.wait(60)

    async def token(self) -> str:
        async with httpx.AsyncClient(base_url=self.url, timeout=30) as http:
            response = await http.post("/auth/token", json={"username": "admin", "password": self.password})
            response.raise_for_status()
            return response.json()["access_token"]


# -- the process tree -----------------------------------------------------------------


def tree_pids(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                ppid = int(Path(f"/proc/{name}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(name))
    pids, i = [root], 0
    while i < len(pids):
        pids += children.get(pids[i], [])
        i += 1
    return pids


def agents_of(home: Path) -> list[int]:
    """Warm agents run in sessions of their own (not children of Lite's tree, once
    re-parented): found by their virtualenv under the home."""
    found = []
    for name in filter(str.isdigit, os.listdir("/proc")):
        try:
            if str(home) in Path(f"/proc/{name}/cmdline").read_text(errors="replace"):
                found.append(int(name))
        except OSError:
            continue
    return found


def pss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def everything(lite: Lite) -> list[int]:
    return sorted(set(tree_pids(lite.process.pid)) | set(agents_of(lite.home)))


# -- measurements -----------------------------------------------------------------------


def write_probe_dag(workspace: Path, marks: Path) -> None:
    folder = workspace / "bench_probe"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "dag.py").write_text(textwrap.dedent(f"""
        import time
        from airflow.sdk import DAG, task

        @task
        def probe(run_id=None):
            started = time.time()
            with open({str(marks)!r} + "/" + run_id.replace("/", "_"), "w") as f:
                f.write(str(started))

        with DAG("bench_probe", schedule=None):
            probe()
        # revision 0
    """))
    (folder / "leoflow.yaml").write_text("dag_id: bench_probe\npython_version: '3.11'\n")


async def wait_version(http: httpx.AsyncClient, dag_id: str, number: int, within: float = 300) -> float:
    deadline = time.perf_counter() + within
    while time.perf_counter() < deadline:
        response = await http.get(f"/api/v2/dags/{dag_id}/dagVersions", params={"order_by": "-version_number", "limit": 1})
        if response.status_code == 200 and response.json()["dag_versions"] and response.json()["dag_versions"][0]["version_number"] >= number:
            return time.perf_counter()
        await asyncio.sleep(0.01)
    raise TimeoutError(f"{dag_id} version {number} not registered within {within}s")


async def save_to_version(http: httpx.AsyncClient, workspace: Path, tries: int) -> list[float]:
    dag_file = workspace / "bench_probe" / "dag.py"
    seconds = []
    current = (await http.get("/api/v2/dags/bench_probe/dagVersions", params={"order_by": "-version_number", "limit": 1})).json()
    number = current["dag_versions"][0]["version_number"]
    for _ in range(tries):
        text = re.sub(r"# revision \d+", f"# revision {time.time_ns()}", dag_file.read_text())
        saved = time.perf_counter()
        dag_file.write_text(text)
        number += 1
        seconds.append(await wait_version(http, "bench_probe", number) - saved)
        await asyncio.sleep(0.3)
    return seconds


async def task_starts(http: httpx.AsyncClient, marks: Path, tries: int) -> list[float]:
    """queued -> user code start of `tries` sequential single-task runs (paced: the
    pool refills between them, as between a user's clicks)."""
    seconds = []
    for _ in range(tries):
        run = (await http.post("/api/v2/dags/bench_probe/dagRuns", json={"logical_date": None})).json()
        run_id = run["dag_run_id"]
        while True:
            state = (await http.get(f"/api/v2/dags/bench_probe/dagRuns/{run_id}")).json()["state"]
            if state in ("success", "failed"):
                break
            await asyncio.sleep(0.05)
        if state != "success":
            raise RuntimeError(f"probe run {run_id} {state}")
        ti = (await http.get(f"/api/v2/dags/bench_probe/dagRuns/{run_id}/taskInstances/probe")).json()
        queued = datetime.fromisoformat(ti["queued_when"].replace("Z", "+00:00")).timestamp()
        started = float((marks / run_id.replace("/", "_")).read_text())
        seconds.append(started - queued)
        await asyncio.sleep(1.0)
    return seconds


async def idle(lite: Lite, seconds: float) -> tuple[float, float, int]:
    """(PSS MB, CPU %, processes) of the whole tree over `seconds` of quiet."""
    await asyncio.sleep(10)  # let the run's aftermath settle
    pids = everything(lite)
    before, started = cpu_seconds(pids), time.perf_counter()
    await asyncio.sleep(seconds)
    pids = everything(lite)
    cpu = (cpu_seconds(pids) - before) / (time.perf_counter() - started) * 100
    return sum(pss_mb(pid) for pid in pids), cpu, len(pids)


def summary(values: list[float], unit: str = "ms", scale: float = 1000) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return f"median {statistics.median(values) * scale:.0f} {unit}, p90 {p90 * scale:.0f} {unit}, min {ordered[0] * scale:.0f} {unit} (n={len(values)})"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tries", type=int, default=10)
    parser.add_argument("--idle-seconds", type=float, default=60)
    parser.add_argument("--cold-uv-cache", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="leoflow-bench-lite-") as scratch:
        home = Path(scratch) / "home"
        home.mkdir()
        marks = Path(scratch) / "marks"
        marks.mkdir()
        env = {"HOME": str(home), "LEOFLOW_HOME": str(home / ".leoflow"), "LEOFLOW_LOG_JSON": "false"}
        if not args.cold_uv_cache:
            env["UV_CACHE_DIR"] = os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv")
        port = 18000 + os.getpid() % 1000

        lite = Lite(home, port, env)
        cold = await lite.start()
        print(f"cold start (empty HOME{', empty uv cache' if args.cold_uv_cache else ''}): UI answers after {cold['ui']:.2f} s, "
              f"examples registered ('ready') after {cold['ready']:.2f} s")
        password = lite.password
        lite.stop()

        for pool in (True, False):
            lite = Lite(home, port, {**env, **({} if pool else {"LEOFLOW_DISPATCHER_WARM_POOL_SIZE": "0"})})
            lite.password = password
            warm = await lite.start()
            label = "warm pool on" if pool else "warm pool off"
            if pool:
                print(f"warm start: UI answers after {warm['ui']:.2f} s, ready after {warm['ready']:.2f} s")
            async with httpx.AsyncClient(base_url=lite.url, timeout=30, headers={"Authorization": f"Bearer {await lite.token()}"}) as http:
                if pool:
                    write_probe_dag(home / "leoflow", marks)
                    await wait_version(http, "bench_probe", 1)
                    print(f"save -> new version registered: {summary(await save_to_version(http, home / 'leoflow', args.tries))}")
                starts = await task_starts(http, marks, args.tries)
                print(f"task start, queued -> user code ({label}): {summary(starts)}")
                if pool:
                    memory, cpu, count = await idle(lite, args.idle_seconds)
                    print(f"idle, whole tree ({count} processes incl. PostgreSQL and warm agents): "
                          f"PSS {memory:.0f} MB, CPU {cpu:.2f} % of one core over {args.idle_seconds:.0f} s")
            lite.stop()


if __name__ == "__main__":
    asyncio.run(main())
