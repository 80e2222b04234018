"""Spine figures, measured in Lite and in the multi-process stack, with and without
the warm-start agent pool:

- task-to-task gap in a 20-task chain of no-op tasks: the previous task's user code
  ends -> the next task's user code starts (median, p99);
- trigger -> first task's user code starts;
- resident memory of each service, idle;
- with --breakdown: where the gap goes, hop by hop (median of each hop), from the
  spine trace (LEOFLOW_SPINE_TRACE: every service, the agent and the bus append
  wall-clock marks to one file; off, it costs nothing).

Timestamps of user code come from the tasks themselves (they write time.time() to a
file), so the gap is exactly "user code end -> user code start" on one clock.

    uv run python bench/spine.py [--runs 5] [--only lite|stack] [--pool on|off|both] [--breakdown [--trace-file F]]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.e2e import stack as stack_module  # noqa: E402
from tests.e2e.driver import Driver, compile_dag  # noqa: E402
from tests.e2e.lite_process import start_lite  # noqa: E402

CHAIN_LENGTH = 20
SHARED_HOME = REPO / "var" / "test-home"
POOL_VARIABLE = "LEOFLOW_DISPATCHER_WARM_POOL_SIZE"
TRACE_VARIABLE = "LEOFLOW_SPINE_TRACE"
STATE_CHANGED = "task_instance.state_changed.v1"
DISPATCH_REQUESTED = "task_instance.dispatch_requested.v1"


def write_chain_dag(folder: Path, marks: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "leoflow.yaml").write_text("dag_id: bench_chain\npython_version: '3.11'\n")
    (folder / "dag.py").write_text(textwrap.dedent(f"""
        import os, time
        from airflow.sdk import DAG, task

        MARKS = {str(marks)!r}

        @task
        def step(i):
            start = time.time()
            with open(os.path.join(MARKS, f"{{os.environ.get('LEOFLOW_BENCH_RUN', 'run')}}-{{i}}"), "w") as f:
                f.write(f"{{start}} {{time.time()}}")

        with DAG("bench_chain", schedule=None, default_args={{"retries": 0}}):
            previous = None
            for i in range({CHAIN_LENGTH}):
                current = step(i)
                if previous is not None:
                    previous >> current
                previous = current
    """))


def task_id(index: int) -> str:
    """The compiled id of the chain's index-th task (`step`, `step__1`, ...)."""
    return "step" if index == 0 else f"step__{index}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and all its descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        try:
            total += rss_mb(current)
        except OSError:
            pass
        stack.extend(children.get(current, []))
    return total


async def wait_for_file(path: Path, *, within: float) -> None:
    deadline = time.monotonic() + within
    while not path.exists():  # noqa: ASYNC240 - a bench: a stat() every 50 ms blocks nothing that matters
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {within}s")
        await asyncio.sleep(0.05)


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages (forked warm agents share most of theirs)
    counted once across the processes sharing them."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_pids(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _role(pid: int) -> str:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "gone"
    if "postgres" in cmdline.split(" ", 1)[0] or cmdline.startswith("postgres"):
        return "postgresql"
    if "leoflow_agent" in cmdline:
        return "agents (templates, standbys, runners)"
    return "services"


def cpu_by_role(roots: list[int]) -> dict[str, float]:
    """CPU seconds (user + system, with reaped children's) of every process under
    `roots`, by role: exited agents and runners count in their reaper's total."""
    totals: dict[str, float] = defaultdict(float)
    for root in roots:
        for pid in tree_pids(root):
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            ticks = sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime, stime, cutime, cstime
            totals[_role(pid)] += ticks / CLOCK_TICKS
    return dict(totals)


# -- the spine trace ------------------------------------------------------------------


class Trace:
    """Marks of one run: (stage, task id) -> the times it was recorded."""

    def __init__(self, lines: list[str]):
        self.marks: dict[tuple[str, str], list[float]] = defaultdict(list)
        pid_keys: dict[str, str] = {}
        parsed = []
        for line in lines:
            parts = line.split(" ", 3)
            if len(parts) < 3:
                continue
            when, pid, stage = float(parts[0]), parts[1], parts[2]
            key = parts[3].strip() if len(parts) > 3 else ""
            if key and stage.startswith("agent."):
                pid_keys[pid] = key
            parsed.append((when, pid, stage, key))
        for when, pid, stage, key in parsed:
            # An agent learns its task id from the spec: earlier marks take it by pid.
            self.marks[(stage, key or pid_keys.get(pid, ""))].append(when)

    def first(self, stage: str, key: str) -> float | None:
        times = self.marks.get((stage, key))
        return min(times) if times else None

    def last(self, stage: str, key: str) -> float | None:
        times = self.marks.get((stage, key))
        return max(times) if times else None


def gap_hops(trace: Trace, before: str, after: str, user_end: float, user_start: float) -> list[tuple[str, float | None]]:
    """The gap before `after` started, as (hop, time) in path order."""
    return [
        ("previous user code ends", user_end),
        ("agent: child exited, outcome known", trace.last("agent.task_ended", before)),
        ("agent: terminal report sent", trace.last(f"agent.report_state:{SUCCESS}.sent", before)),
        ("dispatcher: state change published", trace.last(f"bus.published:{STATE_CHANGED}", before)),
        ("scheduler: state change delivered", trace.last(f"bus.deliver:{STATE_CHANGED}", before)),
        ("scheduler: decided and committed", trace.last(f"bus.handled:{STATE_CHANGED}", before)),
        ("scheduler: dispatch request relayed", trace.first(f"bus.published:{DISPATCH_REQUESTED}", after)),
        ("dispatcher: dispatch request delivered", trace.first(f"bus.deliver:{DISPATCH_REQUESTED}", after)),
        ("dispatcher: launch starts", trace.first("dispatcher.launch", after)),
        ("dispatcher: launched", trace.first("dispatcher.launched", after)),
        ("agent: has the assignment", trace.first("agent.assigned", after) or trace.first("agent.main", after)),
        ("agent: registered", trace.first("agent.register.done", after)),
        ("agent: has the spec", trace.first("agent.get_task_spec.done", after)),
        ("agent: arguments resolved", trace.first("agent.resolve_arguments.done", after)),
        ("agent: RUNNING acknowledged", trace.first(f"agent.report_state:{RUNNING}.done", after)),
        ("runner: run frame received", trace.first("runner.frame", after)),
        ("next user code starts", user_start),
    ]


def first_start_hops(trace: Trace, first: str, triggered: float, user_start: float) -> list[tuple[str, float | None]]:
    """Trigger -> the first task's user code, as (hop, time) in path order."""
    return [
        ("trigger sent (REST)", triggered),
        ("scheduler: dispatch request relayed", trace.first(f"bus.published:{DISPATCH_REQUESTED}", first)),
        ("dispatcher: dispatch request delivered", trace.first(f"bus.deliver:{DISPATCH_REQUESTED}", first)),
        ("dispatcher: launch starts", trace.first("dispatcher.launch", first)),
        ("agent: has the assignment", trace.first("agent.assigned", first) or trace.first("agent.main", first)),
        ("agent: registered", trace.first("agent.register.done", first)),
        ("agent: has the spec", trace.first("agent.get_task_spec.done", first)),
        ("agent: arguments resolved", trace.first("agent.resolve_arguments.done", first)),
        ("agent: RUNNING acknowledged", trace.first(f"agent.report_state:{RUNNING}.done", first)),
        ("first user code starts", user_start),
    ]


RUNNING, SUCCESS = 3, 4  # leoflow.common.v1.TaskInstanceState numbers (report_state marks carry them)


def print_breakdown(rows: list[list[tuple[str, float | None]]], title: str) -> None:
    """Median of each hop over every row that recorded both its ends."""
    print(f"  {title} (median per hop; hops a path did not take are left out):")
    names = [name for name, _ in rows[0]]
    for index in range(1, len(names)):
        spans = []
        for row in rows:
            end = row[index][1]
            start = next((when for _, when in reversed(row[:index]) if when is not None), None)
            if end is not None and start is not None:
                spans.append(end - start)
        if spans:
            print(f"    {names[index]:<42} +{statistics.median(spans) * 1000:6.1f} ms  ({len(spans)} samples)")


# -- measuring ------------------------------------------------------------------------


async def measure_chain(driver: Driver, spec: dict, marks: Path, runs: int, trace_file: Path | None, roots: list[int]):
    await driver.push(spec)
    await driver.unpause(spec["dag_id"])
    gaps, first_starts, breakdown, first_breakdown = [], [], [], []
    cpu_before = cpu_by_role(roots)
    for _ in range(runs):
        for old in marks.iterdir():  # noqa: ASYNC240 - a bench, between runs
            old.unlink()
        if trace_file is not None:
            trace_file.write_text("")  # noqa: ASYNC240 - a bench, between runs
        triggered = time.time()
        run = await driver.trigger(spec["dag_id"])
        # Wait on the last task's mark, not on the API: polling the API while the
        # chain runs would put the gateway and the scheduler's reads in the figures.
        await wait_for_file(marks / f"run-{CHAIN_LENGTH - 1}", within=300)
        finished = await driver.wait_run_finished(spec["dag_id"], run["dag_run_id"], timeout=300)
        assert finished["state"] == "success", finished
        spans = []
        for i in range(CHAIN_LENGTH):
            start, end = map(float, (marks / f"run-{i}").read_text().split())  # noqa: ASYNC240 - a bench, between runs
            spans.append((start, end))
        first_starts.append(spans[0][0] - triggered)
        gaps += [spans[i + 1][0] - spans[i][1] for i in range(CHAIN_LENGTH - 1)]
        if trace_file is not None:
            trace = Trace(trace_file.read_text().splitlines())  # noqa: ASYNC240 - a bench, between runs
            for i in range(1, CHAIN_LENGTH):
                breakdown.append(gap_hops(trace, task_id(i - 1), task_id(i), spans[i - 1][1], spans[i][0]))
            first_breakdown.append(first_start_hops(trace, task_id(0), triggered, spans[0][0]))
    cpu_after = cpu_by_role(roots)
    tasks = runs * CHAIN_LENGTH
    cpu = {role: (cpu_after[role] - cpu_before.get(role, 0.0)) / tasks for role in cpu_after if role != "gone"}
    return gaps, first_starts, (breakdown, first_breakdown), cpu


def report(name: str, gaps: list[float], first_starts: list[float], memory: dict[str, float], breakdown, cpu: dict[str, float]) -> None:
    ms = lambda v: f"{v * 1000:.1f} ms"  # noqa: E731
    print(f"\n== {name} ==", flush=True)
    print(f"task-to-task gap ({len(gaps)} gaps): median {ms(statistics.median(gaps))}, p99 {ms(percentile(gaps, 99))}, "
          f"min {ms(min(gaps))}, max {ms(max(gaps))}")
    print(f"trigger -> first task start ({len(first_starts)} runs): median {ms(statistics.median(first_starts))}, "
          f"max {ms(max(first_starts))}")
    for service, mb in memory.items():
        print(f"idle memory {service}: {mb:.1f} MB")
    if cpu:
        parts = ", ".join(f"{role} {seconds * 1000:.1f}" for role, seconds in sorted(cpu.items()))
        print(f"CPU per task (ms, incl. triggering and polling the run's end): total {sum(cpu.values()) * 1000:.1f} = {parts}")
    gap_rows, first_rows = breakdown
    if gap_rows:
        print_breakdown(gap_rows, "where the gap goes")
    if first_rows:
        print_breakdown(first_rows, "where trigger -> first start goes")
    sys.stdout.flush()


def _environment(pool: bool, trace_file: Path | None) -> dict[str, str]:
    env = {POOL_VARIABLE: "2" if pool else "0"}
    if trace_file is not None:
        env[TRACE_VARIABLE] = str(trace_file)
    return env


async def bench_stack(runs: int, work: Path, pool: bool, trace_file: Path | None) -> None:
    sys.path.insert(0, str(REPO / "libs/common/src"))
    from leoflow_common.testing.pytest_plugin import create_database, drop_database  # noqa: PLC0415

    extra = _environment(pool, trace_file)
    documented = stack_module.stack_environment

    def with_bench_variables(*args, **kwargs):
        # The harness passes the documented variables only; add the pool size and trace.
        return {name: {**env, **extra} for name, env in documented(*args, **kwargs).items()}

    stack_module.stack_environment = with_bench_variables
    name = f"leoflow_bench_{uuid.uuid4().hex[:8]}"
    dsn = await create_database(name)
    tag = f"stack-{'pool' if pool else 'cold'}"
    stack = await stack_module.start_stack(work / tag, database_url=dsn, leoflow_home=SHARED_HOME,
                                           amqp_url="amqp://guest:guest@127.0.0.1:5672/", redis_url="redis://127.0.0.1:6379/0")
    stack_module.stack_environment = documented
    try:
        marks = work / f"{tag}-marks"
        marks.mkdir()
        write_chain_dag(work / f"{tag}-dag", marks)
        spec = compile_dag(work / f"{tag}-dag", SHARED_HOME)
        driver = await Driver.login(stack.gateway_url, "admin", stack.admin_password)
        roots = [s.process.pid for s in stack.services.values() if s.alive]
        gaps, first, breakdown, cpu = await measure_chain(driver, spec, marks, runs, trace_file, roots)
        await asyncio.sleep(3)  # let the services settle before reading idle memory
        memory = {n: rss_mb(s.process.pid) for n, s in stack.services.items() if s.alive}
        report(f"stack, warm pool {'on (2)' if pool else 'off'} (one process per service; RabbitMQ, Redis, PostgreSQL)",
               gaps, first, memory, breakdown, cpu)
    finally:
        stack.stop()
        await drop_database(name)


async def bench_lite(runs: int, work: Path, pool: bool, trace_file: Path | None) -> None:
    tag = f"lite-{'pool' if pool else 'cold'}"
    saved = dict(os.environ)
    os.environ.update(_environment(pool, trace_file))  # start_lite hands its environment to `leoflow lite`
    try:
        lite = await start_lite(work / tag / ".leoflow", work / tag / "workspace")
    finally:
        os.environ.clear()
        os.environ.update(saved)
    try:
        marks = work / f"{tag}-marks"
        marks.mkdir()
        write_chain_dag(work / f"{tag}-dag", marks)
        spec = compile_dag(work / f"{tag}-dag", work / tag / ".leoflow")
        driver = await Driver.login(lite.url, "admin", lite.admin_password)
        gaps, first, breakdown, cpu = await measure_chain(driver, spec, marks, runs, trace_file, [lite.process.pid])
        await asyncio.sleep(3)
        pids = tree_pids(lite.process.pid)
        memory = {
            f"lite process tree, {len(pids)} processes incl. PostgreSQL and warm agents (RSS sum)": tree_rss_mb(lite.process.pid),
            "the same tree, proportional set size (shared pages once)": sum(pss_mb(pid) for pid in pids),
        }
        report(f"Lite, warm pool {'on (2)' if pool else 'off'} (one process tree; in-process bus, managed PostgreSQL)",
               gaps, first, memory, breakdown, cpu)
    finally:
        lite.stop()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--only", choices=["lite", "stack"])
    parser.add_argument("--pool", choices=["on", "off", "both"], default="both")
    parser.add_argument("--breakdown", action="store_true", help="trace every hop and print where the gap goes")
    parser.add_argument("--trace-file", type=Path, help="with --breakdown: keep the raw trace there (one run's)")
    args = parser.parse_args()
    pools = {"on": [True], "off": [False], "both": [False, True]}[args.pool]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        trace_file = (args.trace_file or work / "spine-trace.log") if args.breakdown else None
        for pool in pools:
            if args.only in (None, "lite"):
                await bench_lite(args.runs, work, pool, trace_file)
            if args.only in (None, "stack"):
                await bench_stack(args.runs, work, pool, trace_file)


if __name__ == "__main__":
    asyncio.run(main())
