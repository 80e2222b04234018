"""Airflow's scheduling semantics, end to end in the multi-process stack and in
Lite, observed through the REST API: catchup runs of a cron DAG, backfills with
reprocess behaviour, a one-slot pool serializing tasks, dynamic task mapping
(literal list and upstream XCom, with fan-in), trigger rules with skips and
failures, params validation, dagrun_timeout and depends_on_past."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from leoflow_common.testing import assert_eventually

from tests.e2e.driver import p

pytestmark = pytest.mark.e2e


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def midnight(days_ago: int) -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)


async def runs_of(driver, dag_id: str, **params) -> list[dict]:
    response = await driver.request("GET", f"/api/v2/dags/{p(dag_id)}/dagRuns", params={"limit": 100, "order_by": "logical_date", **params})
    return response.json()["dag_runs"]


async def test_a_cron_dag_with_catchup_runs_every_missed_day(deployment, compiled):
    spec = compiled("sched_cron")
    await deployment.push(spec)
    await deployment.unpause("sched_cron")

    async def four_done():
        runs = await runs_of(deployment, "sched_cron")
        return runs if len(runs) == 4 and all(r["state"] == "success" for r in runs) else None

    runs = await assert_eventually(four_done, timeout=180, message="4 scheduled runs succeeded")
    # Airflow 3: CronTriggerTimetable, run id "scheduled__<run_after ISO>".
    expected = [midnight(d) for d in (3, 2, 1, 0)]
    assert [ts(r["logical_date"]) for r in runs] == expected
    assert [r["dag_run_id"] for r in runs] == [f"scheduled__{d.isoformat()}" for d in expected]
    assert all(r["run_type"] == "scheduled" and r["triggered_by"] == "timetable" for r in runs)
    dag = (await deployment.request("GET", "/api/v2/dags/sched_cron")).json()
    assert ts(dag["next_dagrun_logical_date"]) == midnight(-1)


async def test_a_backfill_over_rest_reprocesses_as_asked(deployment, compiled):
    spec = compiled("sched_cron")
    await deployment.push(spec)
    await deployment.unpause("sched_cron")
    body = {"dag_id": "sched_cron", "from_date": midnight(8).isoformat(), "to_date": midnight(6).isoformat(), "max_active_runs": 2}
    dry = (await deployment.request("POST", "/api/v2/backfills/dry_run", json=body)).json()
    assert [ts(b["logical_date"]) for b in dry["backfills"]] == [midnight(8), midnight(7), midnight(6)]
    created = (await deployment.request("POST", "/api/v2/backfills", json=body)).json()

    async def completed():
        backfill = (await deployment.request("GET", f"/api/v2/backfills/{created['id']}")).json()
        return backfill if backfill["completed_at"] else None

    await assert_eventually(completed, timeout=180, message="backfill completed")
    backfill_runs = await runs_of(deployment, "sched_cron", run_type="backfill")
    assert {r["dag_run_id"]: r["state"] for r in backfill_runs} == {
        f"backfill__{midnight(d).isoformat()}": "success" for d in (8, 7, 6)
    }
    # Everything succeeded: "failed" finds nothing to re-run, "completed" all three.
    again = {**body, "reprocess_behavior": "failed"}
    assert (await deployment.request("POST", "/api/v2/backfills/dry_run", json=again)).json()["total_entries"] == 0
    everything = {**body, "reprocess_behavior": "completed"}
    assert (await deployment.request("POST", "/api/v2/backfills/dry_run", json=everything)).json()["total_entries"] == 3
    ui = (await deployment.request("GET", "/ui/backfills", params={"dag_id": "sched_cron", "active": "false"})).json()
    assert created["id"] in [b["id"] for b in ui["backfills"]]


async def test_a_one_slot_pool_runs_its_tasks_one_at_a_time(deployment, compiled):
    await deployment.request("POST", "/api/v2/pools", json={"name": "e2e_one_slot", "slots": 1}, expect=(201, 409))
    run, states = await deployment.run_dag(compiled("sched_pool"), timeout=180)
    assert run["state"] == "success", states
    tis = sorted(await deployment.task_instances("sched_pool", run["dag_run_id"]), key=lambda t: t["start_date"])
    for earlier, later in zip(tis, tis[1:], strict=False):
        assert ts(earlier["end_date"]) <= ts(later["start_date"]), (earlier, later)
    pool = (await deployment.request("GET", "/api/v2/pools/e2e_one_slot")).json()
    assert pool["slots"] == 1 and pool["open_slots"] == 1 and pool["occupied_slots"] == 0
    # Airflow's two name filters: a substring (LIKE wildcards allowed), and prefixes
    # (case-sensitive, literal, "|" for any of several).
    def names(params):
        return deployment.request("GET", "/api/v2/pools", params=params)

    found = {p["name"] for p in (await names({"pool_name_prefix_pattern": "e2e_one|default"})).json()["pools"]}
    assert found == {"e2e_one_slot", "default_pool"}
    assert (await names({"pool_name_prefix_pattern": "E2E_one"})).json()["total_entries"] == 0
    assert (await names({"pool_name_prefix_pattern": "e%2e"})).json()["total_entries"] == 0  # "%" is literal
    assert {p["name"] for p in (await names({"pool_name_pattern": "one_sl"})).json()["pools"]} == {"e2e_one_slot"}


async def test_mapping_over_a_list_and_an_upstream_xcom_fans_in(deployment, compiled):
    run, states = await deployment.run_dag(compiled("sched_mapping"), timeout=180)
    assert run["state"] == "success", states
    tis = await deployment.task_instances("sched_mapping", run["dag_run_id"])
    indexes = {}
    for ti in tis:
        indexes.setdefault(ti["task_id"], []).append(ti["map_index"])
    assert sorted(indexes["double"]) == [0, 1, 2, 3] and sorted(indexes["shout"]) == [0, 1, 2]
    assert await deployment.xcom("sched_mapping", run["dag_run_id"], "total") == 20
    assert await deployment.xcom("sched_mapping", run["dag_run_id"], "join") == "A-B-C"
    # Airflow's wait endpoint gives a mapped task's results as a list in map_index order.
    waited = await deployment.request(
        "GET", f"/api/v2/dags/sched_mapping/dagRuns/{p(run['dag_run_id'])}/wait",
        params=[("interval", "1"), ("result", "double"), ("result", "total")],
    )
    assert json.loads(waited.text) == {"state": "success", "results": {"double": [2, 4, 6, 8], "total": 20}}


async def test_trigger_rules_with_failures_and_skips(deployment, compiled):
    run, states = await deployment.run_dag(compiled("sched_rules"), timeout=180)
    assert run["state"] == "success", states  # the leaves (alert, cleanup, join) succeeded
    assert states == {
        "ok": "success",
        "boom": "failed",
        "alert": "success",  # one_failed
        "cleanup": "success",  # all_done
        "pick": "success",
        "taken": "success",
        "not_taken": "skipped",  # not followed by the branch
        "join": "success",  # none_failed_min_one_success: one success, one skipped
    }


async def test_params_are_validated_at_trigger_time(deployment, compiled):
    spec = compiled("sched_params")
    await deployment.push(spec)
    await deployment.unpause("sched_params")
    bad = await deployment.request(
        "POST", "/api/v2/dags/sched_params/dagRuns", json={"logical_date": None, "conf": {"times": 0}}, expect=400
    )
    assert "Invalid input for param times" in bad.json()["detail"]
    run = await deployment.trigger("sched_params", {"name": "leoflow", "times": 2})
    finished = await deployment.wait_run_finished("sched_params", run["dag_run_id"], timeout=180)
    assert finished["state"] == "success"
    assert await deployment.xcom("sched_params", run["dag_run_id"], "greet") == "hello leoflow x2"


async def test_dagrun_timeout_and_depends_on_past(deployment, compiled):
    """Airflow 3: a run older than dagrun_timeout is failed with its unfinished
    tasks skipped (the sleeping try is stopped); a depends_on_past task runs only
    after the same task of the previous run (by logical date) succeeded."""
    await deployment.push(compiled("sched_past"))
    await deployment.unpause("sched_past")
    base = midnight(30)

    async def trigger(day: int, conf: dict) -> dict:
        body = {"logical_date": (base + timedelta(days=day)).isoformat(), "conf": conf}
        return (await deployment.request("POST", "/api/v2/dags/sched_past/dagRuns", json=body)).json()

    slow = await trigger(0, {"nap": 120})
    timed_out = await deployment.wait_run_finished("sched_past", slow["dag_run_id"], timeout=90)
    assert timed_out["state"] == "failed"
    assert ts(timed_out["end_date"]) - ts(timed_out["start_date"]) < timedelta(seconds=60)
    assert await deployment.task_states("sched_past", slow["dag_run_id"]) == {"first": "skipped", "later": "skipped"}

    # "later" of day 1 is the task's first instance after a skipped one: it runs.
    one, two = await trigger(1, {}), await trigger(2, {})
    assert (await deployment.wait_run_finished("sched_past", one["dag_run_id"], timeout=90))["state"] == "success"
    assert (await deployment.wait_run_finished("sched_past", two["dag_run_id"], timeout=90))["state"] == "success"
    later = {}
    for run in (one, two):
        tis = {t["task_id"]: t for t in await deployment.task_instances("sched_past", run["dag_run_id"])}
        later[run["dag_run_id"]] = tis["later"]
    assert ts(later[two["dag_run_id"]]["start_date"]) >= ts(later[one["dag_run_id"]]["end_date"])
