"""Drive a Leoflow deployment (Lite or the stack) the way a user does: compile with
the `leoflow` CLI, then push, trigger and observe through the Airflow REST API."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import httpx

LEOFLOW_CLI = Path(sys.executable).parent / "leoflow"
FINISHED_RUN_STATES = {"success", "failed"}


def compile_dag(dag_dir: Path, leoflow_home: Path) -> dict:
    """`leoflow compile DAG_DIR` with the given LEOFLOW_HOME; returns dag.json."""
    env = {**os.environ, "LEOFLOW_HOME": str(leoflow_home)}
    result = subprocess.run([str(LEOFLOW_CLI), "compile", str(dag_dir)], env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise AssertionError(f"leoflow compile {dag_dir} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return json.loads((dag_dir / "dag.json").read_text())


def p(value: str) -> str:
    return quote(value, safe="")


@dataclass
class Driver:
    base_url: str
    token: str

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=30)

    @classmethod
    async def login(cls, base_url: str, username: str, password: str) -> Driver:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            response = await http.post("/auth/token", json={"username": username, "password": password})
            assert response.status_code == 201, response.text
            return cls(base_url, response.json()["access_token"])

    @classmethod
    def login_sync(cls, base_url: str, username: str, password: str) -> Driver:
        """Like login(), for synchronous fixtures."""
        response = httpx.post(f"{base_url}/auth/token", json={"username": username, "password": password}, timeout=30)
        assert response.status_code == 201, response.text
        return cls(base_url, response.json()["access_token"])

    async def request(self, method: str, path: str, *, expect: int | tuple[int, ...] = 200, **kwargs) -> httpx.Response:
        async with self.client() as http:
            response = await http.request(method, path, **kwargs)
        expected = (expect,) if isinstance(expect, int) else expect
        assert response.status_code in expected, f"{method} {path}: {response.status_code} {response.text}"
        return response

    async def push(self, spec: dict) -> dict:
        response = await self.request("POST", f"/api/v2/dags/{p(spec['dag_id'])}/versions", json=spec, expect=(200, 201))
        return response.json()

    async def unpause(self, dag_id: str) -> None:
        await self.request("PATCH", f"/api/v2/dags/{p(dag_id)}", json={"is_paused": False})

    async def trigger(self, dag_id: str, conf: dict | None = None) -> dict:
        response = await self.request("POST", f"/api/v2/dags/{p(dag_id)}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        return response.json()

    async def run(self, dag_id: str, run_id: str) -> dict:
        return (await self.request("GET", f"/api/v2/dags/{p(dag_id)}/dagRuns/{p(run_id)}")).json()

    async def wait_run_finished(self, dag_id: str, run_id: str, timeout: float = 120) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            run = await self.run(dag_id, run_id)
            if run["state"] in FINISHED_RUN_STATES:
                return run
            if time.monotonic() > deadline:
                tis = await self.task_instances(dag_id, run_id)
                raise AssertionError(f"run {dag_id}/{run_id} still {run['state']} after {timeout}s: " + ", ".join(f"{t['task_id']}={t['state']}" for t in tis))
            await asyncio.sleep(0.1)

    async def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        response = await self.request("GET", f"/api/v2/dags/{p(dag_id)}/dagRuns/{p(run_id)}/taskInstances", params={"limit": 1000})
        return response.json()["task_instances"]

    async def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return {ti["task_id"]: ti["state"] for ti in await self.task_instances(dag_id, run_id)}

    async def xcom(self, dag_id: str, run_id: str, task_id: str, key: str = "return_value") -> object:
        response = await self.request(
            "GET",
            f"/api/v2/dags/{p(dag_id)}/dagRuns/{p(run_id)}/taskInstances/{p(task_id)}/xcomEntries/{p(key)}",
            params={"deserialize": "true", "stringify": "false"},
        )
        return response.json()["value"]

    async def log_events(self, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> list[str]:
        response = await self.request(
            "GET",
            f"/api/v2/dags/{p(dag_id)}/dagRuns/{p(run_id)}/taskInstances/{p(task_id)}/logs/{try_number}",
            headers={"Accept": "application/json"},
        )
        return [entry["event"] if isinstance(entry, dict) else entry for entry in response.json()["content"]]

    async def run_dag(self, spec: dict, conf: dict | None = None, timeout: float = 120) -> tuple[dict, dict[str, str]]:
        """Push, unpause, trigger, wait: the finished run and each task's final state."""
        await self.push(spec)
        await self.unpause(spec["dag_id"])
        run = await self.trigger(spec["dag_id"], conf)
        finished = await self.wait_run_finished(spec["dag_id"], run["dag_run_id"], timeout)
        return finished, await self.task_states(spec["dag_id"], run["dag_run_id"])
