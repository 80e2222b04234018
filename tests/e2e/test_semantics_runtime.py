"""Airflow's runtime semantics end to end, in the multi-process stack and in Lite:
templates rendered with Airflow's context and shown as rendered fields, XComs pushed
and pulled inside tasks, branching / short-circuit / skip / fail, task and DAG
callbacks, and mapped tasks with fan-in — each run's every task instance read back
through the REST API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from leoflow_common.testing import assert_eventually

from tests.e2e.driver import p

pytestmark = pytest.mark.e2e

LOGICAL_DATE = "2024-03-05T06:07:08+00:00"


async def trigger_and_wait(driver, spec: dict, *, conf: dict | None = None, logical_date: str | None = None, timeout: float = 180):
    """Push, unpause, trigger (with a logical date when given), wait: the run and its task instances."""
    dag_id = spec["dag_id"]
    await driver.push(spec)
    await driver.unpause(dag_id)
    body = {"logical_date": logical_date, "conf": conf or {}}
    run = (await driver.request("POST", f"/api/v2/dags/{p(dag_id)}/dagRuns", json=body)).json()
    finished = await driver.wait_run_finished(dag_id, run["dag_run_id"], timeout)
    return finished, await driver.task_instances(dag_id, run["dag_run_id"])


def states_of(tis: list[dict]) -> dict:
    """{task_id: state} for unmapped tasks, {(task_id, map_index): state} for mapped ones."""
    return {(ti["task_id"] if ti["map_index"] < 0 else (ti["task_id"], ti["map_index"])): ti["state"] for ti in tis}


async def task_instance(driver, dag_id: str, run_id: str, task_id: str, map_index: int = -1) -> dict:
    suffix = f"/{map_index}" if map_index >= 0 else ""
    return (await driver.request("GET", f"/api/v2/dags/{p(dag_id)}/dagRuns/{p(run_id)}/taskInstances/{p(task_id)}{suffix}")).json()


async def xcom(driver, dag_id: str, run_id: str, task_id: str, key: str = "return_value", map_index: int = -1):
    response = await driver.request(
        "GET",
        f"/api/v2/dags/{p(dag_id)}/dagRuns/{p(run_id)}/taskInstances/{p(task_id)}/xcomEntries/{p(key)}",
        params={"deserialize": "true", "stringify": "false", "map_index": map_index},
    )
    return response.json()["value"]


async def test_templates_render_with_airflows_context_and_show_as_rendered_fields(deployment, compiled):
    spec = compiled("rt_templating")
    run, tis = await trigger_and_wait(deployment, spec, conf={"who": "alice"}, logical_date=LOGICAL_DATE)
    run_id = run["dag_run_id"]
    assert run["state"] == "success", states_of(tis)
    assert states_of(tis) == {t: "success" for t in ("bash_templated", "bash_from_file", "python_templated", "context_view")}

    assert await xcom(deployment, "rt_templating", run_id, "bash_templated") == f"2024-03-05 7 alice data-eng {run_id}"
    assert await xcom(deployment, "rt_templating", run_id, "bash_from_file") == "file says 14 for alice"
    assert await xcom(deployment, "rt_templating", run_id, "python_templated") == {
        "day": "20240305", "label": "default label", "query": "select * from t where x = 7", "x": 7,
    }
    assert await xcom(deployment, "rt_templating", run_id, "context_view") == {
        "same_ti": True, "ds": "2024-03-05", "ts_nodash": "20240305T060708", "run_id": True,
        # dag_run_conf_overrides_params: every conf key lands in params, as in Airflow
        "conf": {"who": "alice"}, "params": {"x": 7, "label": "default label", "who": "alice"}, "macro": "2024-03-06",
        "logical_date_year": 2024,
    }

    bash = await task_instance(deployment, "rt_templating", run_id, "bash_templated")
    assert bash["rendered_fields"] == {
        "bash_command": f"echo 2024-03-05 7 alice data-eng $RUN_ID_ENV",
        "env": {"RUN_ID_ENV": run_id},
        "cwd": None,
    }
    from_file = await task_instance(deployment, "rt_templating", run_id, "bash_from_file")
    assert from_file["rendered_fields"]["bash_command"] == 'echo "file says 14 for alice"'
    python = await task_instance(deployment, "rt_templating", run_id, "python_templated")
    assert python["rendered_fields"] == {
        "templates_dict": {"query": "select * from t where x = 7"},
        "op_args": [],
        "op_kwargs": {"day": "20240305", "label": "default label"},
    }


async def test_xcom_push_and_pull_inside_tasks(deployment, compiled):
    run, tis = await trigger_and_wait(deployment, compiled("rt_xcom"))
    run_id = run["dag_run_id"]
    assert run["state"] == "success", states_of(tis)
    assert states_of(tis) == {t: "success" for t in ("produce", "split", "consume", "far_downstream", "bash_pull", "join_keys")}

    assert await xcom(deployment, "rt_xcom", run_id, "produce", "meta") == {"rows": 3}
    assert await xcom(deployment, "rt_xcom", run_id, "produce") == [1, 2, 3]
    assert await xcom(deployment, "rt_xcom", run_id, "split", "left") == "L"  # multiple_outputs: one XCom per key
    assert await xcom(deployment, "rt_xcom", run_id, "split", "right") == "R"
    assert await xcom(deployment, "rt_xcom", run_id, "consume") == {
        "meta": {"rows": 3},
        "value": [1, 2, 3],
        "several": [[1, 2, 3], {"left": "L", "right": "R"}],
        "left": "L",
        "missing": "fallback",
    }
    assert await xcom(deployment, "rt_xcom", run_id, "far_downstream") == {"rows": 3}
    assert await xcom(deployment, "rt_xcom", run_id, "bash_pull") == "R"
    assert await xcom(deployment, "rt_xcom", run_id, "join_keys") == "LR"


async def test_branching_short_circuit_skip_and_fail_exceptions(deployment, compiled):
    run, tis = await trigger_and_wait(deployment, compiled("rt_branching"))
    assert run["state"] == "failed"  # fail_hard failed
    assert states_of(tis) == {
        # @task.branch follows "chosen"; the other direct downstream is skipped, join still runs
        "pick": "success", "chosen": "success", "not_chosen": "skipped", "join": "success",
        # BranchPythonOperator returning a list
        "pick_many": "success", "b1": "success", "b2": "success", "b3": "skipped",
        # short-circuit (ignore_downstream_trigger_rules=True): everything downstream skipped, all_done too
        "gate_closed": "success", "after_gate": "skipped", "after_after_gate": "skipped",
        # ignore_downstream_trigger_rules=False: only the direct downstream is skipped
        "soft_gate": "success", "soft_direct": "skipped", "soft_all_done": "success",
        # AirflowSkipException; all_success downstream of a skip is skipped
        "skip_me": "skipped", "after_skip": "skipped",
        # AirflowFailException: failed at once although retries=2
        "fail_hard": "failed",
    }
    fail_hard = next(ti for ti in tis if ti["task_id"] == "fail_hard")
    assert fail_hard["try_number"] == 1
    assert await xcom(deployment, "rt_branching", run["dag_run_id"], "pick") == "chosen"


async def test_task_and_dag_callbacks_run_with_airflows_context(deployment, compiled, tmp_path_factory):
    markers: Path = tmp_path_factory.mktemp("callback-markers")
    markers.chmod(0o777)
    run, tis = await trigger_and_wait(deployment, compiled("rt_callbacks"), conf={"marker_dir": str(markers)})
    assert run["state"] == "failed"
    assert states_of(tis) == {"flaky": "success", "broken": "failed"}
    flaky = next(ti for ti in tis if ti["task_id"] == "flaky")
    assert flaky["try_number"] == 2

    def read(name: str) -> dict:
        return json.loads((markers / name).read_text())

    # Task callbacks ran before each try's end was reported.
    assert read("retry-flaky-1") == {"exc": "ValueError"}
    assert read("success-flaky") == {"try_number": 2, "value": "ok on try 2"}
    assert read("failure-broken") == {"exc": "RuntimeError", "message": "always broken", "try_number": 1}
    assert not (markers / "failure-flaky").exists()

    # The DAG's failure callback runs in an agent after the run failed.
    async def dag_callback_ran():
        path = markers / "dag-failure"
        return json.loads(path.read_text()) if path.exists() else None

    marker = await assert_eventually(dag_callback_ran, timeout=60, message="the DAG's on_failure_callback wrote its marker")
    assert marker == {"reason": "task_failure", "run_id": run["dag_run_id"], "dag_id": "rt_callbacks"}


async def test_mapped_tasks_over_an_upstream_list_with_fan_in(deployment, compiled):
    run, tis = await trigger_and_wait(deployment, compiled("rt_mapping"))
    run_id = run["dag_run_id"]
    assert run["state"] == "success", states_of(tis)
    assert states_of(tis) == {
        "make_list": "success",
        ("square", 0): "success", ("square", 1): "success", ("square", 2): "success",
        "total": "success", "pull_all": "success", "configs": "success",
        ("use", 0): "success", ("use", 1): "success",
        ("echo_each", 0): "success", ("echo_each", 1): "success",
    }
    labels = {ti["map_index"]: ti["rendered_map_index"] for ti in tis if ti["task_id"] == "square"}
    assert labels == {0: "x=1", 1: "x=2", 2: "x=3"}
    for index, expected in enumerate([101, 104, 109]):
        assert await xcom(deployment, "rt_mapping", run_id, "square", map_index=index) == expected
    assert await xcom(deployment, "rt_mapping", run_id, "total") == {"values": [101, 104, 109], "sum": 314}
    assert await xcom(deployment, "rt_mapping", run_id, "pull_all") == [101, 104, 109]
    assert [await xcom(deployment, "rt_mapping", run_id, "use", map_index=i) for i in (0, 1)] == ["one:1", "two:2"]
    assert [await xcom(deployment, "rt_mapping", run_id, "echo_each", map_index=i) for i in (0, 1)] == ["one 0", "two 1"]
