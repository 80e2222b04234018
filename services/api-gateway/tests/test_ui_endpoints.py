"""The private UI API (/ui) against a REAL scheduler (SchedulerApp on a database of
this module's own): calendar, gantt, dependencies, the DAG list's filters, task
groups in the grid, hook metadata, tokens and menus. Every answer is checked
against Airflow 3.2.2's _private_ui.yaml.

Nothing runs the tasks here (there is no dispatcher): runs stay queued until the
test marks their task instances, as a user would from the UI."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import quote

import httpx
import pytest
from google.protobuf import json_format
from leoflow_api_gateway import GatewayClients
from leoflow_common.auth import TokenCodec
from leoflow_common.grpc import client_channel, static_token
from leoflow_common.settings import BusSettings, SecuritySettings
from leoflow_common.testing import assert_eventually
from leoflow_common.testing.pytest_plugin import create_database, drop_database
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.scheduler.v1 import identity_pb2, identity_pb2_grpc
from leoflow_scheduler.app import SchedulerApp
from leoflow_scheduler.settings import SchedulerSettings

JWT_SECRET = "api-gateway-ui-tests-secret-0123456789abc"
ADMIN_PASSWORD = "ui-admin-password"
CODEC = TokenCodec(JWT_SECRET)


@pytest.fixture(scope="module")
async def scheduler() -> AsyncIterator[SchedulerApp]:
    name = f"leoflow_gwui_{uuid.uuid4().hex[:10]}"
    dsn = await create_database(name)
    app = SchedulerApp(
        SchedulerSettings(
            database_url=dsn,
            grpc_bind="127.0.0.1:0",
            bootstrap_admin_password=ADMIN_PASSWORD,
            security=SecuritySettings(jwt_secret=JWT_SECRET),
            bus=BusSettings(url="memory://"),
        )
    )
    await app.start()
    yield app
    await app.stop()
    await drop_database(name)


@pytest.fixture(scope="module")
async def clients(scheduler) -> AsyncIterator[GatewayClients]:
    # The /ui endpoints under test ask only the scheduler.
    address = f"127.0.0.1:{scheduler.grpc_port}"
    connected = GatewayClients.connect(scheduler=address, xcom=address, logs=address)
    yield connected
    await connected.close()


@pytest.fixture
async def gateway(clients, gateway_client, make_settings) -> httpx.AsyncClient:
    client = gateway_client(make_settings(security=SecuritySettings(jwt_secret=JWT_SECRET)), clients)
    response = await client.post("/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 201, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client


def spec(
    dag_id: str,
    *,
    tags: tuple[str, ...] = ("ui",),
    owner: str = "data-team",
    schedule: str | None = None,
    groups: bool = False,
) -> dict:
    """A compiled DAG: extract >> report, or with `groups` a TaskGroup "etl" holding
    etl.load >> etl.check after extract."""
    message = dag_pb2.DagSpec(schema_version="1", dag_id=dag_id, display_name=f"{dag_id} display")
    message.tags.extend(tags)
    if schedule:
        message.schedule.kind = dag_pb2.SCHEDULE_KIND_CRON
        message.schedule.expression = schedule
        message.start_date.FromDatetime(datetime(2020, 1, 1, tzinfo=UTC))
    else:
        message.schedule.kind = dag_pb2.SCHEDULE_KIND_NONE
    message.source.fileloc = f"/bundles/{dag_id}/dag.py"
    message.source.relative_fileloc = "dag.py"
    message.source.content = "# source\n"
    tasks = [("extract", [], "")]
    if groups:
        message.task_groups.add(group_id="etl", label="etl", tooltip="load and check", prefix_group_id=True)
        tasks += [("etl.load", ["extract"], "etl"), ("etl.check", ["etl.load"], "etl")]
    else:
        tasks += [("report", ["extract"], "")]
    for task_id, upstream, group in tasks:
        task = message.tasks.add(task_id=task_id, kind=dag_pb2.OPERATOR_KIND_BASH, operator_name="BashOperator", owner=owner)
        task.upstream_task_ids.extend(upstream)
        task.task_group_id = group
        task.bash.bash_command = f"echo {task_id}"
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def path(*parts: str) -> str:
    return "/".join(quote(part, safe="~") for part in parts)


async def register(client: httpx.AsyncClient, dag_id: str, **kwargs) -> None:
    response = await client.post(f"/api/v2/dags/{dag_id}/versions", json=spec(dag_id, **kwargs))
    assert response.status_code in (200, 201), response.text
    response = await client.patch(f"/api/v2/dags/{dag_id}", params={"update_mask": "is_paused"}, json={"is_paused": False})
    assert response.status_code == 200, response.text


async def trigger(client: httpx.AsyncClient, dag_id: str, **body) -> dict:
    response = await client.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, **body})
    assert response.status_code == 200, response.text
    return response.json()


async def mark(client: httpx.AsyncClient, dag_id: str, run_id: str, task_id: str, state: str) -> None:
    async def marked():
        response = await client.patch(
            f"/api/v2/dags/{path(dag_id, 'dagRuns', run_id, 'taskInstances', task_id)}", json={"new_state": state}
        )
        assert response.status_code == 200, response.text
        return True

    await assert_eventually(marked, message=f"{task_id} marked {state}")


# -- calendar ---------------------------------------------------------------------


async def test_calendar_counts_runs_per_day_and_plans_the_cron_schedule(gateway, contract):
    await register(gateway, "cal_dag", schedule="0 5 * * *")
    await trigger(gateway, "cal_dag", dag_run_id="cal_1", logical_date="2021-03-01T05:00:00Z")
    await trigger(gateway, "cal_dag", dag_run_id="cal_2", logical_date="2021-03-01T07:30:00Z")
    await trigger(gateway, "cal_dag", dag_run_id="cal_3", logical_date="2021-03-02T05:00:00Z")
    await trigger(gateway, "cal_dag", dag_run_id="cal_undated")  # no logical date: not on a calendar
    window = {"logical_date_gte": "2021-03-01T00:00:00Z", "logical_date_lte": "2021-03-10T00:00:00Z"}

    daily = await gateway.get("/ui/calendar/cal_dag", params=window)
    assert daily.status_code == 200, daily.text
    contract.validate("CalendarTimeRangeCollectionResponse", daily.json(), spec="ui")
    cells = [(c["date"], c["state"], c["count"]) for c in daily.json()["dag_runs"]]
    # Runs move from queued to running while we look: count per day, whatever the state.
    per_day: dict[str, int] = {}
    for date, state, count in cells:
        if state != "planned":
            assert state in ("queued", "running")
            per_day[date] = per_day.get(date, 0) + count
    assert per_day == {"2021-03-01T00:00:00Z": 2, "2021-03-02T00:00:00Z": 1}
    planned = [date for date, state, count in cells if state == "planned" and count == 1]
    assert len(planned) == len([c for c in cells if c[1] == "planned"]) > 0
    # Planned from the last shown run's interval onwards, within the asked window.
    assert planned[0] >= "2021-03-02" and planned[-1] <= "2021-03-10T00:00:00Z"
    assert daily.json()["total_entries"] == len(cells)

    hourly = await gateway.get("/ui/calendar/cal_dag", params={**window, "granularity": "hourly"})
    assert hourly.status_code == 200
    dated = sorted(c["date"] for c in hourly.json()["dag_runs"] if c["state"] != "planned" for _ in range(c["count"]))
    assert dated == ["2021-03-01T05:00:00Z", "2021-03-01T07:00:00Z", "2021-03-02T05:00:00Z"]
    assert all(c["date"].endswith(":00:00Z") for c in hourly.json()["dag_runs"])

    strictly_after = await gateway.get("/ui/calendar/cal_dag", params={"logical_date_gt": "2021-03-01T07:30:00Z", "logical_date_lt": "2021-03-02T05:00:00Z"})
    assert [c for c in strictly_after.json()["dag_runs"] if c["state"] != "planned"] == []


async def test_calendar_of_an_unscheduled_dag_plans_nothing_and_validates_its_query(gateway):
    await register(gateway, "cal_manual")
    await trigger(gateway, "cal_manual", dag_run_id="m1", logical_date="2021-05-05T10:00:00Z")
    answer = (await gateway.get("/ui/calendar/cal_manual")).json()
    assert [c["state"] for c in answer["dag_runs"]] != [] and "planned" not in {c["state"] for c in answer["dag_runs"]}
    assert (await gateway.get("/ui/calendar/no_such_dag")).status_code == 404
    bad = await gateway.get("/ui/calendar/cal_manual", params={"granularity": "weekly"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "granularity"]
    assert (await gateway.get("/ui/calendar/cal_manual", params={"partition_date_gte": "2021-01-01T00:00:00Z"})).status_code == 400


# -- gantt ------------------------------------------------------------------------


async def test_gantt_has_a_bar_per_try_of_each_task(gateway, contract):
    await register(gateway, "gantt_dag")
    run_id = (await trigger(gateway, "gantt_dag", dag_run_id="gantt_run"))["dag_run_id"]
    await mark(gateway, "gantt_dag", run_id, "extract", "success")

    response = await gateway.get(f"/ui/gantt/gantt_dag/{path(run_id)}")
    assert response.status_code == 200, response.text
    contract.validate("GanttResponse", response.json(), spec="ui")
    bars = {b["task_id"]: b for b in response.json()["task_instances"]}
    assert [b["task_id"] for b in response.json()["task_instances"]] == ["extract", "report"]
    assert bars["extract"]["state"] == "success" and bars["extract"]["end_date"] is not None
    assert bars["report"]["is_group"] is False and bars["report"]["task_display_name"] == "report"

    missing = await gateway.get("/ui/gantt/gantt_dag/no_such_run")
    assert missing.status_code == 404 and missing.json() == {"detail": "No task instances for dag_id=gantt_dag run_id=no_such_run"}


# -- dependencies, assets, partitions, teams ---------------------------------------


async def test_dependencies_are_the_dag_alone(gateway, contract):
    await register(gateway, "deps_dag")
    alone = await gateway.get("/ui/dependencies", params={"node_id": "dag:deps_dag"})
    assert alone.status_code == 200
    contract.validate("BaseGraphResponse", alone.json(), spec="ui")
    assert alone.json() == {"edges": [], "nodes": [{"id": "dag:deps_dag", "label": "deps_dag", "type": "dag"}]}
    assert (await gateway.get("/ui/dependencies")).json() == {"edges": [], "nodes": []}
    assert (await gateway.get("/ui/dependencies", params={"node_id": "dag:nope"})).status_code == 404
    assert (await gateway.get("/ui/dependencies", params={"node_id": "asset:1"})).status_code == 404
    data = await gateway.get("/ui/dependencies", params={"dependency_type": "data", "node_id": "dag:deps_dag"})
    assert data.status_code == 400
    assert (await gateway.get("/ui/dependencies", params={"dependency_type": "data", "node_id": "asset:7"})).status_code == 404
    assert (await gateway.get("/ui/dependencies", params={"dependency_type": "lineage"})).status_code == 422


async def test_the_backfill_banner_lists_a_dags_backfills(gateway, contract):
    await register(gateway, "banner_dag")
    active = await gateway.get("/ui/backfills", params={"dag_id": "banner_dag", "active": "true"})
    assert active.status_code == 200, active.text
    contract.validate("BackfillCollectionResponse", active.json(), spec="ui")
    assert active.json() == {"backfills": [], "total_entries": 0}
    bad = await gateway.get("/ui/backfills", params={"dag_id": "banner_dag", "order_by": "nope"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "order_by"]


async def test_asset_and_partition_views_answer_their_empty_shapes(gateway, contract):
    await register(gateway, "assets_dag")
    assert (await gateway.get("/ui/next_run_assets/assets_dag")).json() == {"asset_expression": None, "events": []}
    assert (await gateway.get("/ui/next_run_assets/nope")).status_code == 404
    runs = await gateway.get("/ui/partitioned_dag_runs", params={"dag_id": "assets_dag"})
    contract.validate("PartitionedDagRunCollectionResponse", runs.json(), spec="ui")
    assert runs.json()["partitioned_dag_runs"] == []
    assert (await gateway.get("/ui/pending_partitioned_dag_run/assets_dag/2024-01-01")).status_code == 404
    teams = await gateway.get("/ui/teams")
    assert teams.status_code == 403
    assert teams.json() == {"detail": "Multi-team mode is not configured in the Airflow environment"}


# -- the DAG list ------------------------------------------------------------------


async def test_the_dag_list_filters_and_sorts_as_the_ui_asks(gateway, contract):
    await register(gateway, "flt_alpha", tags=("flt-a",), owner="alice")
    await register(gateway, "flt_beta", tags=("flt-b",), owner="bob")
    await register(gateway, "flt_gamma", tags=("flt-a", "flt-b"), owner="alice")
    pause = await gateway.patch("/api/v2/dags/flt_gamma", params={"update_mask": "is_paused"}, json={"is_paused": True})
    assert pause.status_code == 200
    for n in range(3):
        await trigger(gateway, "flt_beta", dag_run_id=f"beta_{n}")

    async def ids(**params) -> list[str]:
        response = await gateway.get("/ui/dags", params={"dag_id_pattern": "flt_", "order_by": "dag_id", **params})
        assert response.status_code == 200, response.text
        contract.validate("DAGWithLatestDagRunsCollectionResponse", response.json(), spec="ui")
        return [d["dag_id"] for d in response.json()["dags"]]

    assert await ids() == ["flt_alpha", "flt_beta", "flt_gamma"]
    assert await ids(tags=["flt-a"]) == ["flt_alpha", "flt_gamma"]
    assert await ids(tags=["flt-a", "flt-b"], tags_match_mode="all") == ["flt_gamma"]
    assert await ids(owners=["bob"]) == ["flt_beta"]
    assert await ids(paused="true") == ["flt_gamma"]
    assert await ids(paused="false") == ["flt_alpha", "flt_beta"]
    assert await ids(dag_display_name_pattern="gamma display") == ["flt_gamma"]
    assert await ids(order_by="-dag_display_name") == ["flt_gamma", "flt_beta", "flt_alpha"]
    assert await ids(limit=1, offset=1) == ["flt_beta"]
    state = (await gateway.get("/api/v2/dags/flt_beta/dagRuns/beta_2")).json()["state"]
    assert await ids(last_dag_run_state=state) == ["flt_beta"]
    # "state" and "start_date" sort by the latest run's (DAGs without runs last).
    assert (await ids(order_by="state"))[0] == "flt_beta"
    assert (await ids(order_by="-start_date")) != []

    limited = await gateway.get("/ui/dags", params={"dag_id_pattern": "flt_beta", "dag_runs_limit": 2})
    assert [r["run_id"] for r in limited.json()["dags"][0]["latest_dag_runs"]] == ["beta_2", "beta_1"]
    bad = await gateway.get("/ui/dags", params={"last_dag_run_state": "sleeping"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "last_dag_run_state"]


# -- task groups in the grid and graph ----------------------------------------------


async def test_task_groups_in_the_grid_and_graph(gateway, contract):
    await register(gateway, "group_dag", groups=True)
    run_id = (await trigger(gateway, "group_dag", dag_run_id="group_run"))["dag_run_id"]
    await mark(gateway, "group_dag", run_id, "extract", "success")
    await mark(gateway, "group_dag", run_id, "etl.load", "success")

    structure = await gateway.get("/ui/grid/structure/group_dag")
    for node in structure.json():
        contract.validate("GridNodeResponse", node, spec="ui")
    assert [(n["id"], [c["id"] for c in n.get("children") or []]) for n in structure.json()] == [
        ("extract", []),
        ("etl", ["etl.load", "etl.check"]),
    ]
    assert [c["label"] for c in structure.json()[1]["children"]] == ["load", "check"]

    cells = await gateway.get("/ui/grid/ti_summaries/group_dag", params={"run_ids": [run_id]})
    [line] = [json.loads(text) for text in cells.text.splitlines()]
    contract.validate("GridTISummaries", line, spec="ui")
    by_id = {t["task_id"]: t for t in line["task_instances"]}
    # The group aggregates its two tasks: load succeeded, check is not done yet.
    assert by_id["etl"]["child_states"]["success"] == 1 and sum(by_id["etl"]["child_states"].values()) == 2
    assert by_id["etl"]["state"] != "success"  # one child is not done yet
    assert by_id["etl.load"]["state"] == "success" and by_id["etl.load"]["child_states"] is None

    graph = await gateway.get("/ui/structure/structure_data", params={"dag_id": "group_dag"})
    contract.validate("StructureDataResponse", graph.json(), spec="ui")
    group = next(n for n in graph.json()["nodes"] if n["id"] == "etl")
    assert [c["id"] for c in group["children"]] == ["etl.load", "etl.check"] and group["tooltip"] == "load and check"
    assert [(e["source_id"], e["target_id"]) for e in graph.json()["edges"]] == [("etl.load", "etl.check"), ("extract", "etl.load")]


# -- connections form, tokens, menus -------------------------------------------------


async def test_hook_meta_lists_the_connection_types_for_those_who_may_read_connections(gateway, contract, scheduler):
    response = await gateway.get("/ui/connections/hook_meta")
    assert response.status_code == 200
    for item in response.json():
        contract.validate("ConnectionHookMetaData", item, spec="ui")
    types = {item["connection_type"]: item for item in response.json()}
    assert {"generic", "http", "postgres", "mysql", "redis"} <= set(types)
    assert all(item["hook_class_name"] is None for item in response.json())  # no hook is loaded here
    assert types["postgres"]["standard_fields"]["url_schema"]["title"] == "Database"

    viewer = await _user_client(gateway, scheduler, "hook_viewer", "Viewer")
    assert (await viewer.get("/ui/connections/hook_meta")).status_code == 403


async def test_generate_token_for_the_current_user(gateway, contract):
    response = await gateway.post("/ui/auth/token", json={"token_type": "cli"})
    assert response.status_code == 200, response.text
    contract.validate("GenerateTokenResponse", response.json(), spec="ui")
    assert response.json()["token_type"] == "cli" and response.json()["expires_in_seconds"] == 3600
    principal = CODEC.verify(response.json()["access_token"])
    assert principal.subject == "admin" and principal.roles == ("Admin",)
    default = await gateway.post("/ui/auth/token", json={})
    assert default.json()["token_type"] == "api" and default.json()["expires_in_seconds"] == 86400
    assert (await gateway.post("/ui/auth/token", json={"token_type": "forever"})).status_code == 422


async def test_menus_follow_the_role(gateway, scheduler, contract):
    admin = (await gateway.get("/ui/auth/menus")).json()
    contract.validate("MenuItemCollectionResponse", admin, spec="ui")
    assert {"Connections", "Variables", "Pools", "Dags"} <= set(admin["authorized_menu_items"])
    viewer = await _user_client(gateway, scheduler, "menu_viewer", "Viewer")
    items = (await viewer.get("/ui/auth/menus")).json()["authorized_menu_items"]
    assert "Dags" in items and "Connections" not in items and "Variables" not in items


async def _user_client(gateway: httpx.AsyncClient, scheduler: SchedulerApp, username: str, role: str) -> httpx.AsyncClient:
    """A client of the same gateway logged in as a new user with `role`."""
    channel = client_channel(f"127.0.0.1:{scheduler.grpc_port}", static_token(CODEC.mint_service("ui-tests")))
    try:
        await identity_pb2_grpc.IdentityServiceStub(channel).SetUserPassword(
            identity_pb2.SetUserPasswordRequest(username=username, password=f"{username}-pw", roles=[role])
        )
    finally:
        await channel.close()
    client = httpx.AsyncClient(transport=gateway._transport, base_url=gateway.base_url)
    response = await client.post("/auth/token", json={"username": username, "password": f"{username}-pw"})
    assert response.status_code == 201
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
    return client

