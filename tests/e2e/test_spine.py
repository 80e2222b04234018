"""The spine, end to end, in Lite and in the multi-process stack: a DAG written in
the Airflow 3 dialect is compiled, pushed, scheduled, dispatched, run by the agent
in its own process and observed through Airflow's REST API."""

from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest

from tests.e2e.driver import p

pytestmark = pytest.mark.e2e


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def test_hparam_search_fans_in_five_trials_in_declaration_order(deployment, compiled):
    spec = compiled("e2e_hparam")
    run, states = await deployment.run_dag(spec)

    assert run["state"] == "success", states
    assert states == {**{t: "success" for t in ("trial", "trial__1", "trial__2", "trial__3", "trial__4")}, "select_best": "success"}
    result = await deployment.xcom("e2e_hparam", run["dag_run_id"], "select_best")
    assert [t["lr"] for t in result["received"]] == [0.001, 0.01, 0.05, 0.1, 0.5]
    assert result["best"] == {"lr": 0.05, "score": 1.0}
    # Each trial's own XCom is what select_best received in its slot.
    for index, task_id in enumerate(("trial", "trial__1", "trial__2", "trial__3", "trial__4")):
        assert await deployment.xcom("e2e_hparam", run["dag_run_id"], task_id) == result["received"][index]


async def test_waiting_for_a_run_streams_its_state_then_the_results(deployment, compiled):
    """Airflow 3's GET .../dagRuns/{run_id}/wait, as a CI job uses it."""
    spec = compiled("e2e_hparam")
    await deployment.push(spec)
    await deployment.unpause("e2e_hparam")
    run = await deployment.trigger("e2e_hparam")
    path = f"/api/v2/dags/e2e_hparam/dagRuns/{p(run['dag_run_id'])}/wait"
    params = [("interval", "0.05"), ("result", "select_best"), ("result", "trial"), ("result", "no_such_task")]
    async with deployment.client() as http:
        async with http.stream("GET", path, params=params, timeout=180) as response:
            assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-ndjson")
            lines = [json.loads(line) async for line in response.aiter_lines() if line]
    assert all(set(line) == {"state"} and line["state"] in ("queued", "running") for line in lines[:-1]), lines
    last = lines[-1]
    assert last["state"] == "success", lines
    # A task without a value is left out (mapped tasks: test_semantics_scheduling).
    assert set(last["results"]) == {"select_best", "trial"}
    assert last["results"]["trial"]["lr"] == 0.001
    assert last["results"]["select_best"]["best"] == {"lr": 0.05, "score": 1.0}
    # Finished already: one line, at once. Unknown run: 404. No interval: 422.
    again = await deployment.request("GET", path, params={"interval": "5"})
    assert [json.loads(line) for line in again.text.splitlines()] == [{"state": "success"}]
    await deployment.request("GET", "/api/v2/dags/e2e_hparam/dagRuns/nope/wait", params={"interval": "1"}, expect=404)
    missing = await deployment.request("GET", path, expect=422)
    assert missing.json()["detail"][0]["loc"] == ["query", "interval"]


async def test_print_output_is_readable_through_the_logs_api(deployment, compiled):
    spec = compiled("e2e_hparam")
    run, _ = await deployment.run_dag(spec)
    events = await deployment.log_events("e2e_hparam", run["dag_run_id"], "trial__2")
    assert any("training with lr=0.05" in e for e in events), events


async def test_chain_runs_in_order(deployment, compiled):
    spec = compiled("e2e_chain")
    run, states = await deployment.run_dag(spec)
    assert run["state"] == "success", states
    tis = {ti["task_id"]: ti for ti in await deployment.task_instances("e2e_chain", run["dag_run_id"])}
    assert ts(tis["a"]["end_date"]) <= ts(tis["b"]["start_date"])
    assert ts(tis["b"]["end_date"]) <= ts(tis["c"]["start_date"])
    assert await deployment.xcom("e2e_chain", run["dag_run_id"], "c") == "a>c"
    assert await deployment.xcom("e2e_chain", run["dag_run_id"], "b") == "b ran"  # bash: last stdout line


async def test_failing_task_fails_downstream_upstream_failed_and_run_failed(deployment, compiled):
    spec = compiled("e2e_failing")
    run, states = await deployment.run_dag(spec)
    assert run["state"] == "failed"
    assert states == {
        "ok": "success",
        "boom": "failed",
        "after_boom": "upstream_failed",
        "bash_exit_3": "failed",
        "after_bash": "upstream_failed",
    }
    boom_log = "\n".join(await deployment.log_events("e2e_failing", run["dag_run_id"], "boom"))
    assert "ValueError: boom: cannot handle 1" in boom_log
    bash_log = "\n".join(await deployment.log_events("e2e_failing", run["dag_run_id"], "bash_exit_3"))
    assert "about to fail" in bash_log and "exit code 3" in bash_log.lower().replace("return code", "exit code")


async def test_oversized_xcom_fails_the_task_with_the_reason(deployment, compiled):
    spec = compiled("e2e_big_xcom")
    run, states = await deployment.run_dag(spec)
    assert run["state"] == "failed" and states == {"too_big": "failed"}
    log = "\n".join(await deployment.log_events("e2e_big_xcom", run["dag_run_id"], "too_big"))
    assert "262,144" in log or "256 KiB" in log, log


@pytest.mark.parametrize(
    "mutate, expected",
    [
        (lambda s: s["tasks"][0].update(upstream_task_ids=[s["tasks"][-1]["task_id"]]), "cycle"),
        (lambda s: s["tasks"][-1].update(upstream_task_ids=["no_such_task"]), "no_such_task"),
        (lambda s: s["tasks"].append(copy.deepcopy(s["tasks"][0])), "duplicate"),
        (lambda s: s.update(schedule={"kind": "SCHEDULE_KIND_CRON", "expression": "61 * * * *"}), "cron"),
        (lambda s: s.pop("dag_id"), "dag_id"),
    ],
    ids=["cycle", "unknown-upstream", "duplicate-task-id", "invalid-cron", "missing-dag-id"],
)
async def test_bad_dag_json_is_rejected_clearly_and_nothing_is_stored(deployment, compiled, mutate, expected):
    spec = copy.deepcopy(compiled("e2e_chain"))
    spec["dag_id"] = f"bad_{expected.replace(' ', '_')}"
    for task in spec["tasks"]:  # XCom references to removed/renamed tasks would mask the error under test
        task.pop("arguments", None)
    mutate(spec)
    dag_id = spec.get("dag_id", "missing_dag_id")
    async with deployment.client() as http:
        response = await http.post(f"/api/v2/dags/{dag_id}/versions", json=spec)
        assert response.status_code in (400, 422), response.text
        assert expected in response.text.lower(), response.text
        assert (await http.get(f"/api/v2/dags/{dag_id}")).status_code == 404


async def test_body_that_is_not_json_is_a_clear_400(deployment):
    async with deployment.client() as http:
        response = await http.post("/api/v2/dags/x/dagRuns", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code in (400, 422), response.text
    assert "json" in response.text.lower()
