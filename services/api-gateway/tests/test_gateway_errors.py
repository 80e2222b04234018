"""Errors in Airflow's shape: {"detail": str} or FastAPI's 422 list naming the
offending field; 501 for Airflow operations not implemented yet; 503 when a
service is down; 500 with an incident id (logged once) for anything unexpected
— never a traceback."""

from __future__ import annotations

import logging

import httpx
import pytest
from leoflow_api_gateway import GatewayClients, create_asgi_app
from leoflow_common.testing import free_port
from starlette.routing import Route


def offline_clients() -> GatewayClients:
    nowhere = f"127.0.0.1:{free_port()}"
    return GatewayClients.connect(scheduler=nowhere, xcom=nowhere, logs=nowhere)


@pytest.fixture
async def admin(offline, token_for):
    offline.cookies.set("_token", token_for("Admin"))
    return offline


async def test_a_body_that_is_not_json_is_422_json_invalid(admin, contract):
    response = await admin.post("/api/v2/dags/etl/dagRuns", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    contract.validate("HTTPValidationError", response.json())
    [error] = response.json()["detail"]
    assert error["type"] == "json_invalid" and error["loc"][0] == "body" and error["msg"] == "JSON decode error"


async def test_a_missing_body_is_422_field_required(admin):
    response = await admin.post("/api/v2/dags/etl/dagRuns")
    assert response.status_code == 422
    assert response.json()["detail"] == [{"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}]


async def test_trigger_body_errors_name_the_field(admin, contract):
    missing = await admin.post("/api/v2/dags/etl/dagRuns", json={"conf": {}})
    assert missing.status_code == 422
    assert [e["loc"] for e in missing.json()["detail"]] == [["body", "logical_date"]]
    unknown = await admin.post("/api/v2/dags/etl/dagRuns", json={"logical_date": None, "confs": {}})
    assert [(e["type"], e["loc"]) for e in unknown.json()["detail"]] == [("extra_forbidden", ["body", "confs"])]
    naive = await admin.post("/api/v2/dags/etl/dagRuns", json={"logical_date": "2026-01-01T00:00:00"})
    assert naive.status_code == 422 and naive.json()["detail"][0]["loc"] == ["body", "logical_date"]
    half_interval = await admin.post(
        "/api/v2/dags/etl/dagRuns", json={"logical_date": None, "data_interval_start": "2026-01-01T00:00:00Z"}
    )
    assert half_interval.status_code == 422
    contract.validate("HTTPValidationError", half_interval.json())
    bad_conf = await admin.post("/api/v2/dags/etl/dagRuns", json={"logical_date": None, "conf": [1, 2]})
    assert bad_conf.json()["detail"][0]["loc"] == ["body", "conf"]


async def test_query_errors_name_the_parameter(admin):
    response = await admin.get("/api/v2/dags", params={"limit": "abc"})
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {
            "type": "int_parsing",
            "loc": ["query", "limit"],
            "msg": "Input should be a valid integer, unable to parse string as an integer",
            "input": "abc",
        }
    ]
    negative = await admin.get("/api/v2/dags", params={"offset": "-1"})
    assert negative.json()["detail"][0]["loc"] == ["query", "offset"]
    state = await admin.get("/api/v2/dags/~/dagRuns", params={"state": "exploded"})
    assert state.status_code == 422 and state.json()["detail"][0]["loc"] == ["query", "state", 0]


async def test_path_integers_are_validated(admin):
    response = await admin.get("/api/v2/dags/etl/dagRuns/r/taskInstances/t/logs/first")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "try_number"]
    mapped = await admin.get("/api/v2/dags/etl/dagRuns/r/taskInstances/t/-2")
    assert mapped.status_code == 422 and mapped.json()["detail"][0]["loc"] == ["path", "map_index"]


async def test_filters_leoflow_cannot_apply_are_refused_not_ignored(admin):
    response = await admin.get("/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries", params={"xcom_key_pattern": "x"})
    assert response.status_code == 400
    assert response.json() == {"detail": "Filter(s) not supported by Leoflow yet: xcom_key_pattern"}


async def test_dag_json_with_an_unknown_field_is_422_naming_it(admin):
    body = {"dag_id": "etl", "tasks": [{"task_id": "a", "retriez": 2}]}
    response = await admin.post("/api/v2/dags/etl/versions", json=body)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "tasks", 0, "retriez"]
    assert "retriez" in error["msg"]


async def test_dag_json_must_name_the_dag_of_the_url(admin):
    response = await admin.post("/api/v2/dags/etl/versions", json={"dag_id": "other"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "dag_id"]
    not_an_object = await admin.post("/api/v2/dags/etl/versions", json=["etl"])
    assert not_an_object.status_code == 422


async def test_unimplemented_airflow_operations_are_501_with_a_clear_detail(admin, offline):
    response = await admin.get("/api/v2/jobs")
    assert response.status_code == 501
    assert response.json() == {"detail": "Leoflow does not implement Airflow's get_jobs (GET /api/v2/jobs) yet"}
    ui = await admin.get("/ui/dags/etl/dagRuns/r/deadlines")
    assert ui.status_code == 501 and "get_dag_run_deadlines" in ui.json()["detail"]
    # Authentication still comes first.
    offline.cookies.clear()
    assert (await offline.get("/api/v2/jobs")).status_code == 401


async def test_unknown_api_paths_are_404_json_and_wrong_methods_405(admin):
    for path in ("/api/nothing", "/api/v1/dags", "/api/v2/nothing", "/ui/nothing"):
        response = await admin.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"] == "application/json"
        assert "detail" in response.json()
    response = await admin.put("/api/v2/version")
    assert response.status_code == 405 and response.json() == {"detail": "Method Not Allowed"}


async def test_an_unreachable_service_is_503_not_500(admin):
    response = await admin.get("/api/v2/dags")
    assert response.status_code == 503
    assert response.json() == {"detail": "A Leoflow service is unavailable; try again shortly"}


async def test_an_unexpected_exception_is_500_with_an_incident_logged_once(caplog, make_settings):
    async def explode(request):
        raise RuntimeError("secret internals")

    # The real middleware stack, with one route that fails as no route should.
    clients = offline_clients()
    app = create_asgi_app(make_settings(), clients)
    app.router.routes.insert(0, Route("/boom", explode))
    with caplog.at_level(logging.ERROR, logger="leoflow_api_gateway"):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://t") as client:
            response = await client.get("/boom")
    assert response.status_code == 500
    assert response.json() == {"detail": "Internal Server Error"}
    assert "secret internals" not in response.text
    incident = response.headers["x-leoflow-incident"]
    logged = [r for r in caplog.records if incident in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    await clients.close()


async def test_an_oversized_body_is_413_before_it_is_read_whole(gateway_client, make_settings, token_for):
    client = gateway_client(make_settings(max_body_bytes=1024))
    client.cookies.set("_token", token_for("Admin"))
    big = {"dag_id": "etl", "description": "x" * 2048}
    response = await client.post("/api/v2/dags/etl/versions", json=big)
    assert response.status_code == 413
    assert response.json() == {"detail": "Request body larger than 1024 bytes"}

    async def chunks():  # no Content-Length: the limit holds while streaming too
        for _ in range(4):
            yield b"x" * 512

    streamed = await client.post("/api/v2/dags/etl/dagRuns", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413
    form = await client.post("/auth/token", data={"username": "u" * 2048, "password": "p"})
    assert form.status_code == 413
    small = await client.post("/auth/token", data={"username": "alice"})
    assert small.status_code == 422  # forms under the limit still parse
