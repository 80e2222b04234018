"""Client mistakes the gateway answers itself, before any service is asked, in
Airflow's shapes: 422 naming the parameter (FastAPI's list), 400 where Airflow
answers 400. The "offline" gateway has no reachable service: a request that got
as far as a gRPC call would be 503 instead."""

from __future__ import annotations

import pytest


@pytest.fixture
def admin(offline, token_for):
    offline.headers["Authorization"] = f"Bearer {token_for('Admin')}"
    return offline


def loc(response) -> list:
    assert response.status_code == 422, response.text
    return response.json()["detail"][0]["loc"]


async def test_values_that_cannot_be_stored_or_compared_are_422_naming_them(admin):
    assert loc(await admin.get("/api/v2/dags", params={"dag_id_pattern": "a\x00"})) == ["query", "dag_id_pattern"]
    assert loc(await admin.get("/api/v2/dags/a%00b")) == ["path", "dag_id"]
    assert loc(await admin.get("/api/v2/dags/d/dagRuns/r/taskInstances/t/3000000000")) == ["path", "map_index"]
    assert loc(await admin.get("/api/v2/dags", params={"offset": 2**31})) == ["query", "offset"]
    assert loc(await admin.get("/api/v2/dags/~/dagRuns", params={"run_after_lt": "0000-01-01"})) == ["query", "run_after_lt"]
    assert loc(await admin.get("/api/v2/dags/~/dagRuns", params={"duration_gt": "long"})) == ["query", "duration_gt"]
    assert loc(await admin.get("/api/v2/dags", params={"dag_run_state": "exploded"})) == ["query", "dag_run_state"]


async def test_batch_lists_take_tilde_only_in_the_path(admin):
    assert loc(await admin.post("/api/v2/dags/etl/dagRuns/list", json={})) == ["path", "dag_id"]
    assert loc(await admin.post("/api/v2/dags/~/dagRuns/run/taskInstances/list", json={})) == ["path", "dag_run_id"]
    assert loc(await admin.post("/api/v2/dags/~/dagRuns/list", json={"page_offset": -1})) == ["body", "page_offset"]


async def test_clear_only_new_and_only_failed_exclude_each_other(admin):
    response = await admin.post("/api/v2/dags/etl/dagRuns/r/clear", json={"only_new": True, "only_failed": True})
    assert loc(response) == ["body"]


async def test_external_log_urls_are_airflows_400_for_a_handler_without_them(admin):
    response = await admin.get("/api/v2/dags/etl/dagRuns/r/taskInstances/t/externalLogUrl/1")
    assert response.status_code == 400
    assert response.json() == {"detail": "Task log handler does not support external logs."}
    assert loc(await admin.get("/api/v2/dags/etl/dagRuns/r/taskInstances/t/externalLogUrl/0")) == ["path", "try_number"]


async def test_patch_dags_without_a_pattern_matches_nothing(admin):
    response = await admin.patch("/api/v2/dags", json={"is_paused": True})
    assert response.status_code == 200 and response.json() == {"dags": [], "total_entries": 0}
    refused = await admin.patch("/api/v2/dags", params={"update_mask": "owners"}, json={"is_paused": True})
    assert refused.status_code == 400
