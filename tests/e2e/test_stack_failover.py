"""Killing the scheduler leader (SIGKILL) mid-run: the standby takes over, the run
completes, and no task try runs twice."""

from __future__ import annotations

import asyncio
import textwrap
import time

import asyncpg
import pytest

from tests.e2e.driver import Driver, compile_dag
from tests.e2e.conftest import SHARED_HOME
from tests.e2e.stack import socket_owner

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("stack")]

LEADER_QUERY = """
SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()
"""


async def leader_name(stack) -> str | None:
    """The scheduler replica holding the leader lock (its connection's client port
    belongs to that process)."""
    conn = await asyncpg.connect(stack.database_url)
    try:
        port = await conn.fetchval(LEADER_QUERY)
    finally:
        await conn.close()
    return None if port is None else socket_owner(port, stack.scheduler_pids())


def slow_chain_dag(folder, marker_dir) -> None:
    folder.mkdir(parents=True)
    (folder / "leoflow.yaml").write_text("dag_id: e2e_failover\npython_version: '3.11'\n")
    (folder / "dag.py").write_text(textwrap.dedent(f'''
        import os, time
        from airflow.sdk import DAG, task

        MARKERS = {str(marker_dir)!r}

        def mark(name):
            with open(os.path.join(MARKERS, name), "a") as f:
                f.write("ran\\n")

        @task
        def step(i):
            mark(f"step{{i}}")
            time.sleep(0.7)
            return i

        with DAG("e2e_failover", schedule=None, default_args={{"retries": 0}}):
            previous = None
            for i in range(6):
                current = step(i)
                if previous is not None:
                    previous >> current
                previous = current
    '''))


async def test_standby_takes_over_when_leader_is_killed(stack, tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    slow_chain_dag(tmp_path / "dag", markers)
    spec = compile_dag(tmp_path / "dag", SHARED_HOME)
    driver = await Driver.login(stack.gateway_url, "admin", stack.admin_password)
    await driver.push(spec)
    await driver.unpause("e2e_failover")

    leader = await leader_name(stack)
    assert leader in ("scheduler", "scheduler_standby"), leader
    run = await driver.trigger("e2e_failover")
    deadline = time.monotonic() + 60
    while not (markers / "step1").exists():  # mid-run: the second task has started
        assert time.monotonic() < deadline, "run never reached step1"
        await asyncio.sleep(0.05)
    stack.services[leader].kill()

    finished = await driver.wait_run_finished("e2e_failover", run["dag_run_id"], timeout=120)
    assert finished["state"] == "success"
    assert await leader_name(stack) not in (None, leader)
    tis = await driver.task_instances("e2e_failover", run["dag_run_id"])
    task_ids = ["step"] + [f"step__{i}" for i in range(1, 6)]  # Airflow's ids for repeated calls
    assert {ti["task_id"]: (ti["state"], ti["try_number"]) for ti in tis} == {t: ("success", 1) for t in task_ids}
    for i in range(6):
        assert (markers / f"step{i}").read_text() == "ran\n", f"step{i} ran more than once"
