"""Airflow's list semantics through the gateway against the REAL scheduler (its own
PostgreSQL database) and xcom/logs services: the generic filters (patterns with
"|", prefix patterns, ranges with gt/lt, conf_contains, dag_version, the latest
run's state and dates, timetable_type), PATCH /dags, /dagStats, the batch list
endpoints, listMapped and DAG versions across DAGs. Shapes are checked against
Airflow 3.2.2's spec. No dispatcher runs: runs are driven by marking them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest
from google.protobuf import json_format
from leoflow_api_gateway import GatewayClients, GatewaySettings, create_asgi_app
from leoflow_common.settings import BusSettings, SecuritySettings
from leoflow_common.testing.pytest_plugin import create_database, drop_database
from leoflow_logs.app import LogsApp
from leoflow_logs.settings import LogsSettings
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_scheduler.app import SchedulerApp
from leoflow_scheduler.settings import SchedulerSettings
from leoflow_xcom.app import XComApp
from leoflow_xcom.settings import XComSettings

JWT_SECRET = "api-gateway-rest-lists-secret-0123456789"
AGENT_SECRET = "api-gateway-rest-lists-agent-secret-0123"
PASSWORD = "rest-lists-password"
SECURITY = SecuritySettings(jwt_secret=JWT_SECRET, agent_token_secret=AGENT_SECRET)


@pytest.fixture(scope="module")
async def services(redis_url, tmp_path_factory) -> AsyncIterator[GatewayClients]:
    name = f"leoflow_gw_lists_{uuid.uuid4().hex[:10]}"
    dsn = await create_database(name)
    bus = BusSettings(url="memory://")
    apps = [
        SchedulerApp(
            SchedulerSettings(
                database_url=dsn, grpc_bind="127.0.0.1:0", bootstrap_admin_password=PASSWORD, security=SECURITY, bus=bus
            )
        ),
        XComApp(
            XComSettings(
                grpc_bind="127.0.0.1:0",
                backend="redis",
                redis_url=redis_url,
                key_prefix=f"leoflow-rest-lists:{uuid.uuid4().hex[:10]}:",
                security=SECURITY,
                bus=bus,
            )
        ),
        LogsApp(LogsSettings(grpc_bind="127.0.0.1:0", backend="disk", directory=tmp_path_factory.mktemp("logs"), security=SECURITY, bus=bus)),
    ]
    started = []
    try:
        for app in apps:
            await app.start()
            started.append(app)
        scheduler, xcom, logs = apps
        clients = GatewayClients.connect(
            scheduler=f"127.0.0.1:{scheduler.grpc_port}", xcom=f"127.0.0.1:{xcom.grpc_port}", logs=f"127.0.0.1:{logs.grpc_port}"
        )
        yield clients
        await clients.close()
    finally:
        for app in reversed(started):
            await app.stop()
        await drop_database(name)


async def _logged_in(clients: GatewayClients) -> httpx.AsyncClient:
    settings = GatewaySettings(security=SECURITY, host="127.0.0.1", port=0)
    transport = httpx.ASGITransport(app=create_asgi_app(settings, clients))
    client = httpx.AsyncClient(transport=transport, base_url="http://gateway.test")
    response = await client.post("/auth/token", json={"username": "admin", "password": PASSWORD})
    assert response.status_code == 201, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


@pytest.fixture
async def api(services) -> AsyncIterator[httpx.AsyncClient]:
    client = await _logged_in(services)
    yield client
    await client.aclose()


def spec(dag_id: str, tags: tuple[str, ...] = ()) -> dict:
    """dag.json of extract >> report (bash tasks), unscheduled."""
    message = dag_pb2.DagSpec(schema_version="1", dag_id=dag_id)
    message.tags.extend(tags)
    message.schedule.kind = dag_pb2.SCHEDULE_KIND_NONE
    for task_id, upstream in (("extract", []), ("report", ["extract"])):
        task = message.tasks.add(task_id=task_id, kind=dag_pb2.OPERATOR_KIND_BASH, operator_name="BashOperator")
        task.upstream_task_ids.extend(upstream)
        task.bash.bash_command = f"echo {task_id}"
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


async def register(api: httpx.AsyncClient, dag_id: str, tags: tuple[str, ...] = ()) -> None:
    response = await api.post(f"/api/v2/dags/{dag_id}/versions", json=spec(dag_id, tags))
    assert response.status_code in (200, 201), response.text


async def trigger(api: httpx.AsyncClient, dag_id: str, run_id: str, conf: dict | None = None, state: str | None = None) -> dict:
    response = await api.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "dag_run_id": run_id, "conf": conf or {}})
    assert response.status_code == 200, response.text
    if state:
        marked = await api.patch(f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id)}", json={"state": state})
        assert marked.status_code == 200, marked.text
    return response.json()


def ids(response: httpx.Response, key: str, field: str) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(item[field] for item in response.json()[key])


@pytest.fixture(scope="module")
async def dags(services) -> list[str]:
    """Three DAGs: rl_alpha (a failed run), rl_beta (a successful run), gamma_rl (none)."""
    client = await _logged_in(services)
    await register(client, "rl_alpha", ("team-a",))
    await register(client, "rl_beta", ("team-b",))
    await register(client, "gamma_rl", ("team-a",))
    await trigger(client, "rl_alpha", "alpha_red", {"team": "red"}, state="failed")
    await trigger(client, "rl_beta", "beta_blue", {"team": "blue"}, state="success")
    await client.aclose()
    return ["gamma_rl", "rl_alpha", "rl_beta"]


async def test_dag_list_patterns_prefixes_and_latest_run_filters(api, dags, contract):
    listed = await api.get("/api/v2/dags", params={"dag_id_pattern": "alpha|gamma"})
    contract.validate("DAGCollectionResponse", listed.json())
    assert ids(listed, "dags", "dag_id") == ["gamma_rl", "rl_alpha"]
    # SQL LIKE wildcards are the caller's to use; "~" matches everything.
    assert ids(await api.get("/api/v2/dags", params={"dag_id_pattern": "rl\\_%a"}), "dags", "dag_id") == ["rl_alpha", "rl_beta"]
    assert ids(await api.get("/api/v2/dags", params={"dag_id_pattern": "~"}), "dags", "dag_id") == dags
    # Prefixes are literal and case-sensitive; trailing punctuation is dropped.
    assert ids(await api.get("/api/v2/dags", params={"dag_id_prefix_pattern": "rl_"}), "dags", "dag_id") == ["rl_alpha", "rl_beta"]
    assert ids(await api.get("/api/v2/dags", params={"dag_id_prefix_pattern": "RL"}), "dags", "dag_id") == []
    # The latest run's state and dates.
    assert ids(await api.get("/api/v2/dags", params={"dag_run_state": "failed"}), "dags", "dag_id") == ["rl_alpha"]
    # Marked finished, never started: an end date, no start date (which no range matches).
    ended = await api.get("/api/v2/dags", params={"dag_run_end_date_gte": "2000-01-01T00:00:00Z"})
    assert ids(ended, "dags", "dag_id") == ["rl_alpha", "rl_beta"]
    assert ids(await api.get("/api/v2/dags", params={"dag_run_end_date_lt": "2000-01-01T00:00:00Z"}), "dags", "dag_id") == []
    assert ids(await api.get("/api/v2/dags", params={"dag_run_start_date_gte": "2000-01-01T00:00:00Z"}), "dags", "dag_id") == []
    # Every unscheduled DAG is Airflow's NullTimetable; none has an asset schedule.
    assert ids(await api.get("/api/v2/dags", params={"timetable_type": "NullTimetable"}), "dags", "dag_id") == dags
    assert ids(await api.get("/api/v2/dags", params={"timetable_type": "CronTriggerTimetable"}), "dags", "dag_id") == []
    assert (await api.get("/api/v2/dags", params={"has_asset_schedule": "true"})).json() == {"dags": [], "total_entries": 0}


async def test_bad_filter_values_are_422_naming_the_parameter(api, dags):
    bad_state = await api.get("/api/v2/dags", params={"dag_run_state": "exploded"})
    assert bad_state.status_code == 422 and bad_state.json()["detail"][0]["loc"] == ["query", "dag_run_state"]
    bad_date = await api.get("/api/v2/dags/~/dagRuns", params={"start_date_gt": "yesterday"})
    assert bad_date.status_code == 422 and bad_date.json()["detail"][0]["loc"] == ["query", "start_date_gt"]
    nul = await api.get("/api/v2/dags", params={"tags": "a\x00b"})
    assert nul.status_code == 422 and nul.json()["detail"][0]["loc"] == ["query", "tags"]
    huge = await api.get("/api/v2/dags/rl_alpha/dagRuns/alpha_red/taskInstances/extract/tries", params={"map_index": 2**40})
    assert huge.status_code == 422 and huge.json()["detail"][0]["loc"] == ["query", "map_index"]


async def test_run_filters_conf_versions_and_open_ended_dates(api, dags, contract):
    runs = await api.get("/api/v2/dags/~/dagRuns", params={"conf_contains": "red"})
    contract.validate("DAGRunCollectionResponse", runs.json())
    assert ids(runs, "dag_runs", "dag_run_id") == ["alpha_red"]
    assert ids(await api.get("/api/v2/dags/~/dagRuns", params={"dag_version": 1, "dag_id_prefix_pattern": "rl"}), "dag_runs", "dag_run_id") == [
        "alpha_red",
        "beta_blue",
    ]
    assert ids(await api.get("/api/v2/dags/~/dagRuns", params={"dag_version": 2}), "dag_runs", "dag_run_id") == []
    assert ids(await api.get("/api/v2/dags/~/dagRuns", params={"run_id_prefix_pattern": "beta"}), "dag_runs", "dag_run_id") == ["beta_blue"]
    # "none" is a run without a state: Leoflow has none of those.
    assert ids(await api.get("/api/v2/dags/~/dagRuns", params={"state": "none"}), "dag_runs", "dag_run_id") == []
    with_failed = await api.get("/api/v2/dags/~/dagRuns", params=[("state", "none"), ("state", "failed")])
    assert ids(with_failed, "dag_runs", "dag_run_id") == ["alpha_red"]
    # A run that has not ended counts as ending now (Airflow's rule).
    await trigger(api, "gamma_rl", "gamma_open")
    open_ended = await api.get("/api/v2/dags/gamma_rl/dagRuns", params={"end_date_gt": "2000-01-01T00:00:00Z"})
    assert ids(open_ended, "dag_runs", "dag_run_id") == ["gamma_open"]
    ended_long_ago = await api.get("/api/v2/dags/gamma_rl/dagRuns", params={"end_date_lt": "2000-01-01T00:00:00Z"})
    assert ids(ended_long_ago, "dag_runs", "dag_run_id") == []


async def test_dag_stats_counts_every_state_of_each_dag(api, dags, contract):
    response = await api.get("/api/v2/dagStats", params=[("dag_ids", "rl_alpha"), ("dag_ids", "rl_beta")])
    assert response.status_code == 200, response.text
    contract.validate("DagStatsCollectionResponse", response.json())
    stats = {dag["dag_id"]: {s["state"]: s["count"] for s in dag["stats"]} for dag in response.json()["dags"]}
    assert stats == {
        "rl_alpha": {"queued": 0, "running": 0, "success": 0, "failed": 1},
        "rl_beta": {"queued": 0, "running": 0, "success": 1, "failed": 0},
    }
    assert response.json()["total_entries"] == 2


async def test_patch_dags_pauses_what_the_pattern_matches_and_nothing_without_one(api, dags, contract):
    nothing = await api.patch("/api/v2/dags", params={"tags": "team-a"}, json={"is_paused": True})
    assert nothing.json() == {"dags": [], "total_entries": 0}
    paused = await api.patch("/api/v2/dags", params={"dag_id_pattern": "rl", "tags": "team-a", "limit": 1}, json={"is_paused": True})
    assert paused.status_code == 200, paused.text
    contract.validate("DAGCollectionResponse", paused.json())
    assert paused.json()["total_entries"] == 2 and len(paused.json()["dags"]) == 1
    states = {d["dag_id"]: d["is_paused"] for d in (await api.get("/api/v2/dags", params={"limit": 100})).json()["dags"]}
    assert states["rl_alpha"] is True and states["gamma_rl"] is True
    unpaused = await api.patch("/api/v2/dags", params={"dag_id_pattern": "~", "update_mask": "is_paused"}, json={"is_paused": False})
    assert {d["is_paused"] for d in unpaused.json()["dags"]} == {False}
    refused = await api.patch("/api/v2/dags", params={"dag_id_pattern": "~", "update_mask": "tags"}, json={"is_paused": False})
    assert refused.status_code == 400


async def test_batch_lists_take_their_filters_in_the_body(api, dags, contract):
    runs = await api.post("/api/v2/dags/~/dagRuns/list", json={"dag_ids": ["rl_alpha", "rl_beta"], "states": ["failed"]})
    contract.validate("DAGRunCollectionResponse", runs.json())
    assert ids(runs, "dag_runs", "dag_run_id") == ["alpha_red"]
    ordered = await api.post("/api/v2/dags/~/dagRuns/list", json={"dag_ids": ["rl_alpha", "rl_beta"], "order_by": "-dag_id", "page_limit": 1})
    assert [r["dag_id"] for r in ordered.json()["dag_runs"]] == ["rl_beta"] and ordered.json()["total_entries"] == 2
    assert (await api.post("/api/v2/dags/rl_alpha/dagRuns/list", json={})).status_code == 422
    assert (await api.post("/api/v2/dags/~/dagRuns/list", json={"page_limit": "many"})).status_code == 422

    tis = await api.post("/api/v2/dags/~/dagRuns/~/taskInstances/list", json={"dag_ids": ["rl_alpha"], "task_ids": ["extract"]})
    contract.validate("TaskInstanceCollectionResponse", tis.json())
    assert [(t["dag_id"], t["task_id"]) for t in tis.json()["task_instances"]] == [("rl_alpha", "extract")]
    assert (await api.post("/api/v2/dags/~/dagRuns/~/taskInstances/list", json={"dag_ids": []})).json()["total_entries"] == 0
    assert (await api.post("/api/v2/dags/~/dagRuns/x/taskInstances/list", json={})).status_code == 422


async def test_list_mapped_of_an_unmapped_or_unknown_task_is_404(api, dags):
    base = "/api/v2/dags/rl_alpha/dagRuns/alpha_red/taskInstances"
    unmapped = await api.get(f"{base}/extract/listMapped")
    assert unmapped.status_code == 404 and unmapped.json() == {"detail": "Task id extract is not mapped"}
    unknown = await api.get(f"{base}/nope/listMapped")
    assert unknown.status_code == 404 and unknown.json() == {"detail": "Task id nope not found"}


async def test_dag_versions_across_dags_and_filtered(api, dags, contract):
    every = await api.get("/api/v2/dags/~/dagVersions", params={"limit": 100})
    contract.validate("DAGVersionCollectionResponse", every.json())
    assert set(dags) <= {v["dag_id"] for v in every.json()["dag_versions"]}
    assert ids(await api.get("/api/v2/dags/rl_alpha/dagVersions", params={"version_number": 1}), "dag_versions", "dag_id") == ["rl_alpha"]
    assert (await api.get("/api/v2/dags/rl_alpha/dagVersions", params={"version_number": 2})).json()["total_entries"] == 0


async def test_a_task_instance_note_changes_on_its_own(api, dags, contract):
    url = "/api/v2/dags/rl_beta/dagRuns/beta_blue/taskInstances/extract"
    before = (await api.get(url)).json()
    noted = await api.patch(url, json={"note": "looked at it"})
    assert noted.status_code == 200, noted.text
    contract.validate("TaskInstanceCollectionResponse", noted.json())
    [ti] = noted.json()["task_instances"]
    assert ti["note"] == "looked at it" and ti["state"] == before["state"]
    assert (await api.get(url)).json()["note"] == "looked at it"
    cleared = await api.patch(url, params={"update_mask": "note"}, json={"note": None, "new_state": "failed"})
    assert cleared.json()["task_instances"][0]["note"] is None
    assert (await api.get(url)).json()["state"] == before["state"]  # new_state was not in the mask
    missing = await api.patch("/api/v2/dags/rl_beta/dagRuns/beta_blue/taskInstances/nope", json={"note": "x"})
    assert missing.status_code == 404
