"""The gateway against the REAL services: the scheduler (SchedulerApp on a fresh
PostgreSQL database), the xcom service (Redis backend) and the logs service
(disk backend). Every response is checked against Airflow 3.2.2's OpenAPI spec.

The test acts as an agent only where the product's own agents would (pushing an
XCom, appending log lines), with a real per-task agent token."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import httpx
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from leoflow_api_gateway import GatewayApp, GatewayClients
from leoflow_common.auth import TaskScope, TokenCodec
from leoflow_common.grpc import client_channel, static_token
from leoflow_common.settings import BusSettings, SecuritySettings
from leoflow_common.testing import assert_eventually
from leoflow_common.testing.pytest_plugin import create_database, drop_database
from leoflow_logs.app import LogsApp
from leoflow_logs.settings import LogsSettings
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.logs.v1 import logs_pb2, logs_pb2_grpc
from leoflow_proto.scheduler.v1 import identity_pb2, identity_pb2_grpc
from leoflow_proto.xcom.v1 import xcom_pb2, xcom_pb2_grpc
from leoflow_scheduler.app import SchedulerApp
from leoflow_scheduler.settings import SchedulerSettings
from leoflow_xcom.app import XComApp
from leoflow_xcom.settings import XComSettings

JWT_SECRET = "api-gateway-integration-secret-0123456789"
AGENT_SECRET = "api-gateway-integration-agent-secret-0123"
ADMIN_PASSWORD = "admin-password"
CODEC = TokenCodec(JWT_SECRET, AGENT_SECRET)


@dataclass
class Stack:
    scheduler: SchedulerApp
    xcom: XComApp
    logs: LogsApp
    clients: GatewayClients


@pytest.fixture(scope="module")
async def gateway_database() -> AsyncIterator[str]:
    """A database of this module's own: its scheduler must not share the leader lock,
    users or DAGs with other test packages running in the same worker."""
    name = f"leoflow_gw_{uuid.uuid4().hex[:10]}"
    dsn = await create_database(name)
    yield dsn
    await drop_database(name)


@pytest.fixture(scope="module")
async def stack(gateway_database, redis_url, tmp_path_factory) -> AsyncIterator[Stack]:
    security = SecuritySettings(jwt_secret=JWT_SECRET, agent_token_secret=AGENT_SECRET)
    bus = BusSettings(url="memory://")
    scheduler = SchedulerApp(
        SchedulerSettings(
            database_url=gateway_database,
            grpc_bind="127.0.0.1:0",
            bootstrap_admin_password=ADMIN_PASSWORD,
            security=security,
            bus=bus,
        )
    )
    xcom = XComApp(
        XComSettings(
            grpc_bind="127.0.0.1:0",
            backend="redis",
            redis_url=redis_url,
            key_prefix=f"leoflow-gateway-test:{uuid.uuid4().hex[:10]}:",
            security=security,
            bus=bus,
        )
    )
    logs = LogsApp(
        LogsSettings(
            grpc_bind="127.0.0.1:0", backend="disk", directory=tmp_path_factory.mktemp("logs"), security=security, bus=bus
        )
    )
    started = []
    try:
        for app in (scheduler, xcom, logs):
            await app.start()
            started.append(app)
        clients = GatewayClients.connect(
            scheduler=f"127.0.0.1:{scheduler.grpc_port}",
            xcom=f"127.0.0.1:{xcom.grpc_port}",
            logs=f"127.0.0.1:{logs.grpc_port}",
        )
        yield Stack(scheduler, xcom, logs, clients)
        await clients.close()
    finally:
        for app in reversed(started):
            await app.stop()


def gateway_security() -> SecuritySettings:
    return SecuritySettings(jwt_secret=JWT_SECRET, agent_token_secret=AGENT_SECRET)


@pytest.fixture
def gateway(stack, gateway_client, make_settings) -> httpx.AsyncClient:
    return gateway_client(make_settings(security=gateway_security()), stack.clients)


async def login(client: httpx.AsyncClient, username: str = "admin", password: str = ADMIN_PASSWORD) -> None:
    response = await client.post("/auth/token", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    client.headers["Authorization"] = f"Bearer {response.json()['access_token']}"


def dag_json(dag_id: str, *, tags: tuple[str, ...] = ("integration",), description: str = "a test DAG") -> dict:
    """A compiled DAG as `leoflow compile` writes it: start >> [extract, report]."""
    spec = dag_pb2.DagSpec(schema_version="1", dag_id=dag_id, display_name=f"{dag_id} (display)", description=description)
    spec.tags.extend(tags)
    spec.schedule.kind = dag_pb2.SCHEDULE_KIND_NONE
    spec.doc_md = "Integration test DAG"
    spec.params["limit"].has_default = True
    spec.params["limit"].default.number_value = 10
    spec.source.fileloc = f"/bundles/{dag_id}/dag.py"
    spec.source.relative_fileloc = "dag.py"
    spec.source.content = f"# the source of {dag_id}\n"
    for task_id, upstream in (("extract", []), ("report", ["extract"])):
        task = spec.tasks.add(task_id=task_id, kind=dag_pb2.OPERATOR_KIND_BASH, operator_name="BashOperator", owner="data-team")
        task.upstream_task_ids.extend(upstream)
        task.bash.bash_command = f"echo {task_id}"
    from google.protobuf import json_format

    return json_format.MessageToDict(spec, preserving_proto_field_name=True)


async def register(client: httpx.AsyncClient, dag_id: str, **kwargs) -> dict:
    response = await client.post(f"/api/v2/dags/{dag_id}/versions", json=dag_json(dag_id, **kwargs))
    assert response.status_code in (200, 201), response.text
    return response.json()


async def unpaused(client: httpx.AsyncClient, dag_id: str) -> None:
    response = await client.patch(f"/api/v2/dags/{dag_id}", params={"update_mask": "is_paused"}, json={"is_paused": False})
    assert response.status_code == 200, response.text


async def trigger(client: httpx.AsyncClient, dag_id: str, **body) -> dict:
    response = await client.post(f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, **body})
    assert response.status_code == 200, response.text
    return response.json()


def path(*parts: str) -> str:
    """URL path segments encoded as the UI encodes them (encodeURIComponent)."""
    return "/".join(quote(part, safe="~") for part in parts)


async def queued_task(client: httpx.AsyncClient, dag_id: str, run_id: str, task_id: str) -> dict:
    async def check():
        response = await client.get(f"/api/v2/dags/{path(dag_id, 'dagRuns', run_id, 'taskInstances', task_id)}")
        body = response.json()
        assert response.status_code == 200 and body["try_number"] >= 1, body
        return body

    return await assert_eventually(check, message=f"{task_id} queued")


# -- login -------------------------------------------------------------------------


async def test_login_with_the_schedulers_users(gateway, contract):
    response = await gateway.post("/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert response.status_code == 201
    contract.validate("LoginResponse", response.json(), spec="auth")
    principal = CODEC.verify(response.json()["access_token"])
    assert principal.subject == "admin" and principal.roles == ("Admin",)

    form = await gateway.post("/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert form.status_code == 201
    cli = await gateway.post("/auth/token/cli", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert cli.status_code == 201

    for username, password in (("admin", "wrong"), ("nobody", "whatever")):
        refused = await gateway.post("/auth/token", json={"username": username, "password": password})
        assert refused.status_code == 401
        assert refused.json() == {"detail": "Invalid credentials"}


async def test_the_browser_flow_uses_the_cookie_only(gateway):
    token = (await gateway.post("/auth/token", json={"username": "admin", "password": ADMIN_PASSWORD})).json()["access_token"]
    gateway.cookies.set("_token", token)
    assert (await gateway.get("/ui/config")).status_code == 200
    assert (await gateway.get("/api/v2/dags")).status_code == 200


# -- DAGs ----------------------------------------------------------------------------


async def test_register_a_version_then_the_same_spec_again(gateway, contract):
    await login(gateway)
    created = await gateway.post("/api/v2/dags/reg_dag/versions", json=dag_json("reg_dag"))
    assert created.status_code == 201
    contract.validate("DagVersionResponse", created.json(), extensions=("created",))
    assert created.json()["created"] is True and created.json()["version_number"] == 1
    assert created.json()["dag_display_name"] == "reg_dag (display)"

    again = await gateway.post("/api/v2/dags/reg_dag/versions", json=dag_json("reg_dag"))
    assert again.status_code == 200
    assert again.json()["created"] is False and again.json()["id"] == created.json()["id"]

    changed = await gateway.post("/api/v2/dags/reg_dag/versions", json=dag_json("reg_dag", description="v2"))
    assert changed.status_code == 201 and changed.json()["version_number"] == 2


async def test_list_get_details_and_pause_dags(gateway, contract):
    await login(gateway)
    await register(gateway, "list_alpha", tags=("team-a",))
    await register(gateway, "list_beta", tags=("team-b",))

    listed = await gateway.get("/api/v2/dags", params={"dag_id_pattern": "list_", "order_by": "dag_id"})
    assert listed.status_code == 200
    contract.validate("DAGCollectionResponse", listed.json())
    assert [d["dag_id"] for d in listed.json()["dags"]] == ["list_alpha", "list_beta"]
    assert listed.json()["total_entries"] == 2

    page = await gateway.get("/api/v2/dags", params={"dag_id_pattern": "list_", "order_by": "dag_id", "limit": 1, "offset": 1})
    assert [d["dag_id"] for d in page.json()["dags"]] == ["list_beta"] and page.json()["total_entries"] == 2
    tagged = await gateway.get("/api/v2/dags", params={"dag_id_pattern": "list_", "tags": "team-b"})
    assert [d["dag_id"] for d in tagged.json()["dags"]] == ["list_beta"]

    dag = await gateway.get("/api/v2/dags/list_alpha")
    assert dag.status_code == 200
    contract.validate("DAGResponse", dag.json())
    assert dag.json()["dag_display_name"] == "list_alpha (display)" and dag.json()["is_paused"] is True

    details = await gateway.get("/api/v2/dags/list_alpha/details")
    assert details.status_code == 200
    contract.validate("DAGDetailsResponse", details.json())
    assert details.json()["params"]["limit"]["value"] == 10
    assert details.json()["doc_md"] == "Integration test DAG"
    assert details.json()["latest_dag_version"]["version_number"] == 1

    patched = await gateway.patch("/api/v2/dags/list_alpha", params={"update_mask": "is_paused"}, json={"is_paused": False})
    assert patched.status_code == 200
    contract.validate("DAGResponse", patched.json())
    assert patched.json()["is_paused"] is False
    unpaused_only = await gateway.get("/api/v2/dags", params={"dag_id_pattern": "list_", "paused": "false"})
    assert [d["dag_id"] for d in unpaused_only.json()["dags"]] == ["list_alpha"]

    bad_mask = await gateway.patch("/api/v2/dags/list_alpha", params={"update_mask": "description"}, json={"is_paused": True})
    assert bad_mask.status_code == 400


async def test_unknown_dags_are_404_in_airflows_words(gateway):
    await login(gateway)
    for method, url, body in (
        ("GET", "/api/v2/dags/no_such_dag", None),
        ("GET", "/api/v2/dags/no_such_dag/details", None),
        ("PATCH", "/api/v2/dags/no_such_dag", {"is_paused": True}),
        ("GET", "/api/v2/dags/no_such_dag/dagRuns", None),
    ):
        response = await gateway.request(method, url, json=body)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json() == {"detail": "The Dag with ID: `no_such_dag` was not found"}
    trigger_unknown = await gateway.post("/api/v2/dags/no_such_dag/dagRuns", json={"logical_date": None})
    assert trigger_unknown.status_code == 404


# -- runs and task instances ------------------------------------------------------


async def test_trigger_list_and_get_runs(gateway, contract):
    await login(gateway)
    await register(gateway, "runs_dag")
    await unpaused(gateway, "runs_dag")
    run = await trigger(gateway, "runs_dag", conf={"n": 1, "label": "first"}, note="by the test")
    contract.validate("DAGRunResponse", run)
    assert run["run_type"] == "manual" and run["triggered_by"] == "rest_api"
    assert run["triggering_user_name"] == "admin"  # the user's own token reached the scheduler
    assert run["conf"] == {"n": 1, "label": "first"} and run["note"] == "by the test"
    assert run["dag_display_name"] == "runs_dag (display)"
    run_id = run["dag_run_id"]
    assert ":" in run_id and "+" in run_id

    from_ui = await gateway.post(
        "/api/v2/dags/runs_dag/dagRuns",
        json={"logical_date": None, "dag_run_id": "from_the_ui"},
        headers={"Referer": "http://gateway.test/dags/runs_dag"},
    )
    assert from_ui.status_code == 200 and from_ui.json()["triggered_by"] == "ui"
    duplicate = await gateway.post("/api/v2/dags/runs_dag/dagRuns", json={"logical_date": None, "dag_run_id": "from_the_ui"})
    assert duplicate.status_code == 409

    one = await gateway.get(f"/api/v2/dags/{path('runs_dag', 'dagRuns', run_id)}")
    assert one.status_code == 200 and one.json()["dag_run_id"] == run_id
    contract.validate("DAGRunResponse", one.json())
    missing = await gateway.get("/api/v2/dags/runs_dag/dagRuns/nope")
    assert missing.status_code == 404

    listed = await gateway.get("/api/v2/dags/runs_dag/dagRuns", params={"order_by": "-run_after"})
    contract.validate("DAGRunCollectionResponse", listed.json())
    assert listed.json()["total_entries"] == 2
    assert {r["dag_run_id"] for r in listed.json()["dag_runs"]} == {run_id, "from_the_ui"}

    everywhere = await gateway.get("/api/v2/dags/~/dagRuns", params={"limit": 100})
    assert {run_id, "from_the_ui"} <= {r["dag_run_id"] for r in everywhere.json()["dag_runs"]}

    first = await gateway.get("/api/v2/dags/runs_dag/dagRuns", params={"cursor": "", "limit": 1, "order_by": "-run_after"})
    contract.validate("DAGRunCollectionResponse", first.json())
    assert first.json()["total_entries"] is None and first.json()["previous_cursor"] is None
    second = await gateway.get(
        "/api/v2/dags/runs_dag/dagRuns", params={"cursor": first.json()["next_cursor"], "limit": 1, "order_by": "-run_after"}
    )
    assert second.json()["next_cursor"] is None and second.json()["previous_cursor"] is not None
    seen = [first.json()["dag_runs"][0]["dag_run_id"], second.json()["dag_runs"][0]["dag_run_id"]]
    assert sorted(seen) == sorted([run_id, "from_the_ui"])


async def test_task_instances_of_a_run(gateway, contract):
    await login(gateway)
    await register(gateway, "ti_dag")
    await unpaused(gateway, "ti_dag")
    run_id = (await trigger(gateway, "ti_dag"))["dag_run_id"]
    extract = await queued_task(gateway, "ti_dag", run_id, "extract")
    contract.validate("TaskInstanceResponse", extract)
    assert extract["state"] == "queued" and extract["dag_display_name"] == "ti_dag (display)"
    assert extract["map_index"] == -1 and extract["operator"] == "BashOperator"

    listed = await gateway.get(f"/api/v2/dags/{path('ti_dag', 'dagRuns', run_id, 'taskInstances')}")
    assert listed.status_code == 200
    contract.validate("TaskInstanceCollectionResponse", listed.json())
    by_task = {ti["task_id"]: ti for ti in listed.json()["task_instances"]}
    assert set(by_task) == {"extract", "report"} and by_task["report"]["state"] is None

    queued = await gateway.get(f"/api/v2/dags/{path('ti_dag', 'dagRuns', run_id, 'taskInstances')}", params={"state": "queued"})
    assert [ti["task_id"] for ti in queued.json()["task_instances"]] == ["extract"]
    no_state = await gateway.get(f"/api/v2/dags/{path('ti_dag', 'dagRuns', run_id, 'taskInstances')}", params={"state": "none"})
    assert [ti["task_id"] for ti in no_state.json()["task_instances"]] == ["report"]

    across = await gateway.get("/api/v2/dags/~/dagRuns/~/taskInstances", params={"limit": 100})
    assert across.status_code == 200
    contract.validate("TaskInstanceCollectionResponse", across.json())
    assert {("ti_dag", run_id, "extract"), ("ti_dag", run_id, "report")} <= {
        (ti["dag_id"], ti["dag_run_id"], ti["task_id"]) for ti in across.json()["task_instances"]
    }

    links = await gateway.get(f"/api/v2/dags/{path('ti_dag', 'dagRuns', run_id, 'taskInstances', 'extract', 'links')}")
    assert links.status_code == 200
    contract.validate("ExtraLinkCollectionResponse", links.json())
    assert links.json() == {"extra_links": {}, "total_entries": 0}
    mapped_form = await gateway.get(f"/api/v2/dags/{path('ti_dag', 'dagRuns', run_id, 'taskInstances', 'extract', '-1')}")
    assert mapped_form.status_code == 200 and mapped_form.json()["id"] == extract["id"]
    unknown = await gateway.get(f"/api/v2/dags/{path('ti_dag', 'dagRuns', run_id, 'taskInstances', 'nope')}")
    assert unknown.status_code == 404
    unknown_run = await gateway.get(f"/api/v2/dags/{path('ti_dag', 'dagRuns', 'no-run', 'taskInstances')}")
    assert unknown_run.status_code == 404


async def test_a_viewer_reads_but_may_not_change_anything(gateway, stack):
    channel = client_channel(f"127.0.0.1:{stack.scheduler.grpc_port}", static_token(CODEC.mint_service("test-admin")))
    await identity_pb2_grpc.IdentityServiceStub(channel).SetUserPassword(
        identity_pb2.SetUserPasswordRequest(username="vera", password="vera-password", roles=["Viewer"])
    )
    await channel.close()
    await login(gateway)
    await register(gateway, "viewer_dag")
    gateway.headers.pop("Authorization")
    await login(gateway, "vera", "vera-password")
    assert (await gateway.get("/api/v2/dags/viewer_dag")).status_code == 200
    assert (await gateway.get("/ui/auth/me")).json() == {"id": "vera", "username": "vera"}
    refused = await gateway.post("/api/v2/dags/viewer_dag/dagRuns", json={"logical_date": None})
    assert refused.status_code == 403 and refused.json() == {"detail": "Forbidden"}
    assert (await gateway.post("/api/v2/dags/viewer_dag/versions", json=dag_json("viewer_dag"))).status_code == 403


# -- XComs and logs (as the task's agent would write them) ------------------------


def agent_stubs(stack: Stack, dag_id: str, run_id: str, task_id: str, try_number: int = 1):
    scope = TaskScope(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=-1, try_number=try_number, execution_name=f"exec-{task_id}")
    token = static_token(CODEC.mint_agent("default", scope))
    xcom_channel = client_channel(f"127.0.0.1:{stack.xcom.grpc_port}", token)
    logs_channel = client_channel(f"127.0.0.1:{stack.logs.grpc_port}", token)
    return xcom_channel, logs_channel


async def test_xcom_entries_through_the_gateway(gateway, stack, contract):
    await login(gateway)
    await register(gateway, "xcom_dag")
    await unpaused(gateway, "xcom_dag")
    run_id = (await trigger(gateway, "xcom_dag"))["dag_run_id"]
    await queued_task(gateway, "xcom_dag", run_id, "extract")
    xcom_channel, logs_channel = agent_stubs(stack, "xcom_dag", run_id, "extract")
    key = keys_pb2.TaskInstanceKey(dag_id="xcom_dag", run_id=run_id, task_id="extract", map_index=-1)
    await xcom_pb2_grpc.XComServiceStub(xcom_channel).PushXCom(
        xcom_pb2.PushXComRequest(key=key, xcom_key="return_value", value_json=json.dumps({"rows": [1, 2, 3]}).encode())
    )
    await xcom_channel.close()
    await logs_channel.close()

    base = f"/api/v2/dags/{path('xcom_dag', 'dagRuns', run_id, 'taskInstances', 'extract', 'xcomEntries')}"
    listed = await gateway.get(base)
    assert listed.status_code == 200
    contract.validate("XComCollectionResponse", listed.json())
    [entry] = listed.json()["xcom_entries"]
    assert entry["key"] == "return_value" and entry["dag_display_name"] == "xcom_dag (display)"
    assert entry["run_id"] == run_id and entry["map_index"] == -1
    across = await gateway.get("/api/v2/dags/~/dagRuns/~/taskInstances/~/xcomEntries", params={"limit": 100})
    assert any(e["dag_id"] == "xcom_dag" for e in across.json()["xcom_entries"])

    native = await gateway.get(f"{base}/return_value", params={"deserialize": "true"})
    assert native.status_code == 200
    contract.validate("XComResponseNative", native.json())
    assert native.json()["value"] == {"rows": [1, 2, 3]}
    text = await gateway.get(f"{base}/return_value", params={"stringify": "true"})
    contract.validate("XComResponseString", text.json())
    assert text.json()["value"] == "{'rows': [1, 2, 3]}"
    missing = await gateway.get(f"{base}/nope")
    assert missing.status_code == 404 and missing.json() == {"detail": "XCom entry with key: `nope` not found"}

    # By hand, as the UI's "Add XCom" does.
    created = await gateway.post(base, json={"key": "by_hand", "value": {"n": 1}})
    assert created.status_code == 201, created.text
    contract.validate("XComResponseNative", created.json())
    assert created.json()["value"] == {"n": 1}
    assert (await gateway.post(base, json={"key": "by_hand", "value": 2})).status_code == 409
    updated = await gateway.patch(f"{base}/by_hand", json={"value": [1, 2]})
    assert updated.status_code == 200 and updated.json()["value"] == [1, 2]
    assert (await gateway.get(f"{base}/by_hand")).json()["value"] == [1, 2]
    assert (await gateway.patch(f"{base}/nope", json={"value": 1})).status_code == 404
    assert (await gateway.delete(f"{base}/by_hand")).status_code == 204
    assert (await gateway.get(f"{base}/by_hand")).status_code == 404
    assert (await gateway.delete(f"{base}/by_hand")).status_code == 404
    no_task = f"/api/v2/dags/{path('xcom_dag', 'dagRuns', run_id, 'taskInstances', 'nope', 'xcomEntries')}"
    assert (await gateway.post(no_task, json={"key": "k", "value": 1})).status_code == 404


def record(sequence: int, event: str, level: str = "info") -> logs_pb2.LogRecord:
    stamp = Timestamp()
    stamp.GetCurrentTime()
    return logs_pb2.LogRecord(timestamp=stamp, level=level, stream="stdout", event=event, sequence=sequence, logger="task")


async def test_task_logs_json_ndjson_continuation_and_follow(gateway, stack, contract, make_settings):
    await login(gateway)
    await register(gateway, "log_dag")
    await unpaused(gateway, "log_dag")
    run_id = (await trigger(gateway, "log_dag"))["dag_run_id"]
    await queued_task(gateway, "log_dag", run_id, "extract")
    xcom_channel, logs_channel = agent_stubs(stack, "log_dag", run_id, "extract")
    logs_stub = logs_pb2_grpc.LogServiceStub(logs_channel)
    try_key = keys_pb2.TaskInstanceTryKey(
        task_instance=keys_pb2.TaskInstanceKey(dag_id="log_dag", run_id=run_id, task_id="extract", map_index=-1), try_number=1
    )

    async def append(records, final=False):
        async def batches():
            yield logs_pb2.AppendLogsRequest(key=try_key, records=records, final=final)

        await logs_stub.AppendLogs(batches())

    url = f"/api/v2/dags/{path('log_dag', 'dagRuns', run_id, 'taskInstances', 'extract', 'logs', '1')}"
    await append([record(1, "starting"), record(2, "working")])

    as_json = await gateway.get(url, headers={"Accept": "application/json"})
    assert as_json.status_code == 200
    contract.validate("TaskInstancesLogResponse", as_json.json())
    assert [m["event"] for m in as_json.json()["content"]] == ["starting", "working"]
    assert as_json.json()["content"][0]["level"] == "info" and as_json.json()["content"][0]["chan"] == "stdout"
    token = as_json.json()["continuation_token"]
    assert token  # the log is still open

    as_ndjson = await gateway.get(url, headers={"Accept": "application/x-ndjson"})
    assert as_ndjson.headers["content-type"].startswith("application/x-ndjson")
    lines = [json.loads(line) for line in as_ndjson.text.splitlines()]
    assert [m["event"] for m in lines] == ["starting", "working"]
    assert as_ndjson.headers["airflow-continuation-token"]

    # Following needs a real HTTP server: the ASGI test transport buffers whole bodies.
    server = GatewayApp(make_settings(security=gateway_security()), stack.clients)
    await server.start()
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.http_port}", headers=gateway.headers) as http:
            async with http.stream("GET", url, params={"follow": "true"}) as followed:
                assert followed.status_code == 200
                events = []
                async for line in followed.aiter_lines():
                    events.append(json.loads(line)["event"])
                    if len(events) == 2:  # what was logged so far arrived while the log is open
                        await append([record(3, "done", "warning")], final=True)
    finally:
        await server.stop()
    assert events == ["starting", "working", "done"]

    resumed = await gateway.get(url, params={"token": token}, headers={"Accept": "application/json"})
    assert [m["event"] for m in resumed.json()["content"]] == ["done"]
    assert resumed.json()["continuation_token"] is None  # closed: nothing more will come
    closed = await gateway.get(url, headers={"Accept": "application/x-ndjson"})
    assert "airflow-continuation-token" not in closed.headers

    forged = await gateway.get(url, params={"token": token + "x"})
    assert forged.status_code == 400
    beyond = await gateway.get(url.replace("/logs/1", "/logs/2"))
    assert beyond.status_code == 404 and beyond.json() == {"detail": "TaskInstance not found"}
    await xcom_channel.close()
    await logs_channel.close()


# -- versions, sources, tries, run changes, the UI's DAG list ----------------------


async def test_dag_versions_and_sources(gateway, contract):
    await login(gateway)
    await register(gateway, "versions_dag")
    await register(gateway, "versions_dag", description="second")
    listed = await gateway.get("/api/v2/dags/versions_dag/dagVersions", params={"order_by": "-version_number"})
    assert listed.status_code == 200
    contract.validate("DAGVersionCollectionResponse", listed.json())
    assert [v["version_number"] for v in listed.json()["dag_versions"]] == [2, 1]
    assert listed.json()["total_entries"] == 2
    one = await gateway.get("/api/v2/dags/versions_dag/dagVersions/1")
    assert one.status_code == 200 and one.json()["version_number"] == 1
    contract.validate("DagVersionResponse", one.json())
    assert (await gateway.get("/api/v2/dags/versions_dag/dagVersions/9")).status_code == 404

    source = await gateway.get("/api/v2/dagSources/versions_dag")
    assert source.status_code == 200
    contract.validate("DAGSourceResponse", source.json())
    assert source.json() == {
        "content": "# the source of versions_dag\n",
        "dag_id": "versions_dag",
        "version_number": 2,
        "dag_display_name": "versions_dag (display)",
    }
    first = await gateway.get("/api/v2/dagSources/versions_dag", params={"version_number": 1})
    assert first.json()["version_number"] == 1
    text = await gateway.get("/api/v2/dagSources/versions_dag", headers={"Accept": "text/plain"})
    assert text.headers["content-type"].startswith("text/plain") and text.text == "# the source of versions_dag\n"
    assert (await gateway.get("/api/v2/dagSources/no_such_dag")).status_code == 404


async def test_tries_of_a_task_instance(gateway, contract):
    await login(gateway)
    await register(gateway, "tries_dag")
    await unpaused(gateway, "tries_dag")
    run_id = (await trigger(gateway, "tries_dag"))["dag_run_id"]
    await queued_task(gateway, "tries_dag", run_id, "extract")
    tries = await gateway.get(f"/api/v2/dags/{path('tries_dag', 'dagRuns', run_id, 'taskInstances', 'extract', 'tries')}")
    assert tries.status_code == 200
    contract.validate("TaskInstanceHistoryCollectionResponse", tries.json())
    assert [t["try_number"] for t in tries.json()["task_instances"]] == [1]
    mapped_form = await gateway.get(f"/api/v2/dags/{path('tries_dag', 'dagRuns', run_id, 'taskInstances', 'extract', '-1', 'tries')}")
    assert mapped_form.json() == tries.json()
    one = await gateway.get(f"/api/v2/dags/{path('tries_dag', 'dagRuns', run_id, 'taskInstances', 'extract', 'tries', '1')}")
    assert one.status_code == 200 and one.json()["try_number"] == 1
    contract.validate("TaskInstanceHistoryResponse", one.json())
    missing = await gateway.get(f"/api/v2/dags/{path('tries_dag', 'dagRuns', run_id, 'taskInstances', 'extract', 'tries', '5')}")
    assert missing.status_code == 404


async def test_mark_a_run_and_delete_it(gateway, contract):
    await login(gateway)
    await register(gateway, "mark_dag")
    await unpaused(gateway, "mark_dag")
    run_id = (await trigger(gateway, "mark_dag"))["dag_run_id"]
    url = f"/api/v2/dags/{path('mark_dag', 'dagRuns', run_id)}"
    noted = await gateway.patch(url, params={"update_mask": "note"}, json={"note": "looked at it"})
    assert noted.status_code == 200, noted.text
    contract.validate("DAGRunResponse", noted.json())
    assert noted.json()["note"] == "looked at it"
    failed = await gateway.patch(url, json={"state": "failed"})
    assert failed.status_code == 200 and failed.json()["state"] == "failed"
    bad = await gateway.patch(url, json={"state": "running"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "state"]

    deleted = await gateway.delete(url)
    assert deleted.status_code == 204
    assert (await gateway.get(url)).status_code == 404
    assert (await gateway.delete(url)).status_code == 404


async def test_the_ui_dag_list(gateway, contract):
    await login(gateway)
    await register(gateway, "uilist_dag")
    await unpaused(gateway, "uilist_dag")
    first = (await trigger(gateway, "uilist_dag", dag_run_id="uilist_first"))["dag_run_id"]
    second = (await trigger(gateway, "uilist_dag", dag_run_id="uilist_second"))["dag_run_id"]
    response = await gateway.get(
        "/ui/dags",
        params={
            "dag_runs_limit": 1,
            "limit": 50,
            "offset": 0,
            "tags_match_mode": "any",
            "exclude_stale": "true",
            "order_by": "dag_display_name",
            "dag_id_pattern": "uilist",
        },
    )
    assert response.status_code == 200, response.text
    contract.validate("DAGWithLatestDagRunsCollectionResponse", response.json(), spec="ui")
    [dag] = response.json()["dags"]
    assert dag["dag_id"] == "uilist_dag" and dag["pending_actions"] == []
    assert [run["run_id"] for run in dag["latest_dag_runs"]] == [second]  # the newest only
    assert first != second
    none_pending = await gateway.get("/ui/dags", params={"has_pending_actions": "true"})
    assert none_pending.json() == {"total_entries": 0, "dags": []}

    latest = await gateway.get("/ui/dags/uilist_dag/latest_run")
    assert latest.status_code == 200
    contract.validate("DAGRunLightResponse", latest.json(), spec="ui")
    assert latest.json()["run_id"] == second
    await register(gateway, "uilist_norun")
    assert (await gateway.get("/ui/dags/uilist_norun/latest_run")).json() is None


async def test_dashboard_dag_stats(gateway, contract):
    await login(gateway)
    await register(gateway, "stats_dag")
    await unpaused(gateway, "stats_dag")
    await trigger(gateway, "stats_dag")

    async def dags_where(**params) -> tuple[int, set[str]]:
        body = (await gateway.get("/api/v2/dags", params={"limit": 1000, **params})).json()
        return body["total_entries"], {d["dag_id"] for d in body["dags"]}

    async def consistent():
        # The registry updates a DAG's last run state as runs move: compare the
        # counts with the DAG list's own filters, read around them, until stable.
        response = await gateway.get("/ui/dashboard/dag_stats")
        assert response.status_code == 200
        stats = response.json()
        active, _ = await dags_where(paused="false")
        queued, queued_ids = await dags_where(last_dag_run_state="queued")
        running, running_ids = await dags_where(last_dag_run_state="running")
        failed, _ = await dags_where(last_dag_run_state="failed")
        assert stats == (await gateway.get("/ui/dashboard/dag_stats")).json(), "moving"
        assert stats == {
            "active_dag_count": active,
            "failed_dag_count": failed,
            "running_dag_count": running,
            "queued_dag_count": queued,
        }
        assert "stats_dag" in queued_ids | running_ids
        return stats

    stats = await assert_eventually(consistent, message="dag_stats agrees with the DAG list")
    contract.validate("DashboardDagStatsResponse", stats, spec="ui")


async def test_dashboard_history(gateway, contract):
    await login(gateway)
    since = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    before = (await gateway.get("/ui/dashboard/historical_metrics_data", params={"start_date": since})).json()
    await register(gateway, "history_dag")
    await unpaused(gateway, "history_dag")
    run_id = (await trigger(gateway, "history_dag"))["dag_run_id"]
    await queued_task(gateway, "history_dag", run_id, "extract")
    response = await gateway.get("/ui/dashboard/historical_metrics_data", params={"start_date": since})
    assert response.status_code == 200, response.text
    contract.validate("HistoricalMetricDataResponse", response.json(), spec="ui")
    after = response.json()
    runs_before, runs_after = before["dag_run_states"], after["dag_run_states"]
    assert runs_after["queued"] + runs_after["running"] == runs_before["queued"] + runs_before["running"] + 1
    tis_before, tis_after = before["task_instance_states"], after["task_instance_states"]
    assert tis_after["queued"] >= tis_before["queued"] + 1 and tis_after["no_status"] >= tis_before["no_status"] + 1
    # A window that ended before these runs existed holds none of them.
    old = await gateway.get(
        "/ui/dashboard/historical_metrics_data",
        params={"start_date": "2020-01-01T00:00:00Z", "end_date": "2020-01-02T00:00:00Z"},
    )
    assert old.status_code == 200
    assert sum(old.json()["dag_run_states"].values()) == 0 and sum(old.json()["task_instance_states"].values()) == 0
    missing = await gateway.get("/ui/dashboard/historical_metrics_data")
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["query", "start_date"]


async def test_dag_tags_across_dags(gateway, contract):
    await login(gateway)
    await register(gateway, "tags_one", tags=("zz-tag-b", "zz-tag-a"))
    await register(gateway, "tags_two", tags=("zz-tag-b", "zz-other"))
    response = await gateway.get("/api/v2/dagTags", params={"tag_name_pattern": "zz-", "order_by": "name"})
    assert response.status_code == 200
    contract.validate("DAGTagCollectionResponse", response.json())
    assert response.json() == {"tags": ["zz-other", "zz-tag-a", "zz-tag-b"], "total_entries": 3}
    page = await gateway.get("/api/v2/dagTags", params={"tag_name_prefix_pattern": "zz-tag", "limit": 1, "offset": 1})
    assert page.json() == {"tags": ["zz-tag-b"], "total_entries": 2}


async def test_the_grid_and_graph_of_a_dag(gateway, contract):
    await login(gateway)
    await register(gateway, "grid_dag")
    await unpaused(gateway, "grid_dag")
    run_id = (await trigger(gateway, "grid_dag"))["dag_run_id"]
    await queued_task(gateway, "grid_dag", run_id, "extract")

    structure = await gateway.get(
        "/ui/grid/structure/grid_dag", params={"include_upstream": "false", "include_downstream": "false", "limit": 10, "order_by": "-run_after"}
    )
    assert structure.status_code == 200
    for node in structure.json():
        contract.validate("GridNodeResponse", node, spec="ui")
    assert [n["id"] for n in structure.json()] == ["extract", "report"]

    runs = await gateway.get("/ui/grid/runs/grid_dag", params={"limit": 10, "order_by": "-run_after"})
    assert runs.status_code == 200
    for run in runs.json():
        contract.validate("GridRunsResponse", run, spec="ui")
    assert [r["run_id"] for r in runs.json()] == [run_id]

    cells = await gateway.get("/ui/grid/ti_summaries/grid_dag", params={"run_ids": [run_id, "not-a-run"]})
    assert cells.status_code == 200 and cells.headers["content-type"].startswith("application/x-ndjson")
    [line] = [json.loads(text) for text in cells.text.splitlines()]
    contract.validate("GridTISummaries", line, spec="ui")
    assert line["run_id"] == run_id
    assert {t["task_id"]: t["state"] for t in line["task_instances"]} == {"extract": "queued", "report": None}

    graph = await gateway.get("/ui/structure/structure_data", params={"dag_id": "grid_dag", "version_number": 1})
    assert graph.status_code == 200
    contract.validate("StructureDataResponse", graph.json(), spec="ui")
    assert [(e["source_id"], e["target_id"]) for e in graph.json()["edges"]] == [("extract", "report")]
    assert [n["operator"] for n in graph.json()["nodes"]] == ["BashOperator", "BashOperator"]

    tasks = await gateway.get("/api/v2/dags/grid_dag/tasks", params={"order_by": "-task_id"})
    assert tasks.status_code == 200
    contract.validate("TaskCollectionResponse", tasks.json())
    assert [t["task_id"] for t in tasks.json()["tasks"]] == ["report", "extract"]
    task = await gateway.get("/api/v2/dags/grid_dag/tasks/extract")
    contract.validate("TaskResponse", task.json())
    assert task.json()["downstream_task_ids"] == ["report"] and task.json()["owner"] == "data-team"
    assert (await gateway.get("/api/v2/dags/grid_dag/tasks/nope")).status_code == 404

    assert (await gateway.get("/ui/grid/structure/no_such_dag")).status_code == 404
    assert (await gateway.get("/ui/structure/structure_data", params={"dag_id": "grid_dag", "version_number": 7})).status_code == 404
    missing_param = await gateway.get("/ui/structure/structure_data")
    assert missing_param.status_code == 422 and missing_param.json()["detail"][0]["loc"] == ["query", "dag_id"]


async def test_every_declared_metric_is_observed(gateway, gateway_client):
    from leoflow_api_gateway.metrics import METRICS, REQUESTS

    before = REQUESTS.labels("get_dags", "200")._value.get()
    await login(gateway)
    assert (await gateway.get("/api/v2/dags")).status_code == 200
    assert REQUESTS.labels("get_dags", "200")._value.get() == before + 1
    assert (await gateway.post("/auth/token", json={"username": "admin", "password": "nope"})).status_code == 401
    offline = gateway_client()  # a gateway whose scheduler is unreachable
    assert (await offline.post("/auth/token", json={"username": "admin", "password": "x"})).status_code == 503
    assert METRICS.unobserved() == []


async def test_mark_and_clear_task_instances(gateway, contract):
    await login(gateway)
    await register(gateway, "mark_ti_dag")
    await unpaused(gateway, "mark_ti_dag")
    run_id = (await trigger(gateway, "mark_ti_dag"))["dag_run_id"]
    await queued_task(gateway, "mark_ti_dag", run_id, "extract")
    ti_url = f"/api/v2/dags/{path('mark_ti_dag', 'dagRuns', run_id, 'taskInstances', 'extract')}"

    preview = await gateway.patch(f"{ti_url}/dry_run", json={"new_state": "success"})
    assert preview.status_code == 200, preview.text
    contract.validate("TaskInstanceCollectionResponse", preview.json())
    assert [ti["task_id"] for ti in preview.json()["task_instances"]] == ["extract"]
    assert (await gateway.get(ti_url)).json()["state"] == "queued"  # a dry run changes nothing

    marked = await gateway.patch(ti_url, json={"new_state": "success", "note": "done by hand"})
    assert marked.status_code == 200, marked.text
    assert [(ti["task_id"], ti["state"]) for ti in marked.json()["task_instances"]] == [("extract", "success")]
    assert (await gateway.get(ti_url)).json()["note"] == "done by hand"
    note_only = await gateway.patch(ti_url, params={"update_mask": "note"}, json={"note": "x"})
    assert note_only.status_code == 200 and note_only.json()["task_instances"][0]["note"] == "x"
    bad_state = await gateway.patch(ti_url, json={"new_state": "running"})
    assert bad_state.status_code == 422 and bad_state.json()["detail"][0]["loc"] == ["body", "new_state"]

    clear_preview = await gateway.post(
        "/api/v2/dags/mark_ti_dag/clearTaskInstances", json={"dag_run_id": run_id, "only_failed": False, "task_ids": ["extract"]}
    )
    assert clear_preview.status_code == 200, clear_preview.text
    contract.validate("TaskInstanceCollectionResponse", clear_preview.json())
    assert [ti["task_id"] for ti in clear_preview.json()["task_instances"]] == ["extract"]
    missing_run = await gateway.post("/api/v2/dags/mark_ti_dag/clearTaskInstances", json={"dag_run_id": "nope"})
    assert missing_run.status_code == 404

    run_url = f"/api/v2/dags/{path('mark_ti_dag', 'dagRuns', run_id)}/clear"
    run_preview = await gateway.post(run_url, json={"dry_run": True})
    assert run_preview.status_code == 200
    # The spec's item is oneOf(TaskInstanceResponse, NewTaskResponse), which no task
    # instance can satisfy (it fits both, even from Airflow): check the member we send.
    for item in run_preview.json()["task_instances"]:
        contract.validate("TaskInstanceResponse", item)
    assert run_preview.json()["total_entries"] == len(run_preview.json()["task_instances"])
    assert "extract" in {ti["task_id"] for ti in run_preview.json()["task_instances"]}
    cleared = await gateway.post(run_url, json={"dry_run": False})
    assert cleared.status_code == 200, cleared.text
    contract.validate("DAGRunResponse", cleared.json())
    assert cleared.json()["state"] in ("queued", "running")

    async def extract_cleared():
        body = (await gateway.get(ti_url)).json()
        assert body["state"] != "success", body
        return body

    await assert_eventually(extract_cleared, message="extract cleared")
