"""Event logs, DAG favorites, config and providers through the gateway against a
REAL scheduler; every answer checked against Airflow 3.2.2's OpenAPI spec."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from google.protobuf import json_format
from leoflow_api_gateway import GatewayClients
from leoflow_common.auth import TokenCodec
from leoflow_common.settings import BusSettings, SecuritySettings
from leoflow_common.testing import free_port
from leoflow_common.testing.pytest_plugin import create_database, drop_database
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_scheduler.app import SchedulerApp
from leoflow_scheduler.settings import SchedulerSettings

JWT_SECRET = "gateway-event-log-tests-secret-0123456789"
CODEC = TokenCodec(JWT_SECRET)


@pytest.fixture(scope="module")
async def scheduler_clients() -> AsyncIterator[GatewayClients]:
    name = f"leoflow_gwlog_{uuid.uuid4().hex[:10]}"
    dsn = await create_database(name)
    scheduler = SchedulerApp(
        SchedulerSettings(
            database_url=dsn, grpc_bind="127.0.0.1:0", dags_are_paused_at_creation=True,
            security=SecuritySettings(jwt_secret=JWT_SECRET), bus=BusSettings(url="memory://"),
        )
    )  # fmt: skip
    await scheduler.start()
    nowhere = f"127.0.0.1:{free_port()}"
    clients = GatewayClients.connect(scheduler=f"127.0.0.1:{scheduler.grpc_port}", xcom=nowhere, logs=nowhere, rpc_timeout=10)
    try:
        yield clients
    finally:
        await clients.close()
        await scheduler.stop()
        await drop_database(name)


@pytest.fixture
def api(scheduler_clients, gateway_client, make_settings):
    def make(role: str = "Admin", username: str = "alice", **settings) -> httpx.AsyncClient:
        client = gateway_client(make_settings(security=SecuritySettings(jwt_secret=JWT_SECRET), **settings), scheduler_clients)
        if role:
            client.headers["Authorization"] = f"Bearer {CODEC.mint_user(username, 'default', [role])}"
        return client

    return make


async def register(client: httpx.AsyncClient, dag_id: str) -> None:
    spec = dag_pb2.DagSpec(schema_version="1", dag_id=dag_id)
    spec.schedule.kind = dag_pb2.SCHEDULE_KIND_NONE
    spec.source.relative_fileloc = "dag.py"
    task = spec.tasks.add(task_id="only", kind=dag_pb2.OPERATOR_KIND_BASH, operator_name="BashOperator")
    task.bash.bash_command = "echo hi"
    response = await client.post(f"/api/v2/dags/{dag_id}/versions", json=json_format.MessageToDict(spec, preserving_proto_field_name=True))
    assert response.status_code in (200, 201), response.text


async def test_changes_are_listed_in_the_event_log(api, contract):
    admin = api("Admin", username="ada")
    dag_id = f"logged_{uuid.uuid4().hex[:6]}"
    await register(admin, dag_id)
    unpause = await admin.patch(f"/api/v2/dags/{dag_id}", params={"update_mask": "is_paused"}, json={"is_paused": False})
    assert unpause.status_code == 200, unpause.text
    viewer = api("Viewer")
    listed = await viewer.get("/api/v2/eventLogs", params={"dag_id": dag_id, "order_by": "-when"})
    assert listed.status_code == 200, listed.text
    contract.validate("EventLogCollectionResponse", listed.json())
    events = listed.json()["event_logs"]
    assert [(e["event"], e["owner"], e["dag_id"]) for e in events] == [
        ("patch_dag", "ada", dag_id), ("register_dag_version", "ada", dag_id),
    ]  # fmt: skip
    assert events[0]["dag_display_name"] == dag_id
    filtered = await viewer.get("/api/v2/eventLogs", params={"dag_id_pattern": dag_id[:9], "excluded_events": "register_dag_version"})
    assert [e["event"] for e in filtered.json()["event_logs"]] == ["patch_dag"]
    one = await viewer.get(f"/api/v2/eventLogs/{events[0]['event_log_id']}")
    assert one.status_code == 200 and one.json() == events[0]
    contract.validate("EventLogResponse", one.json())
    missing = await viewer.get("/api/v2/eventLogs/999999999")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "The Event Log with id: `999999999` not found"}
    assert (await viewer.get("/api/v2/eventLogs/abc")).status_code == 422
    assert (await viewer.get("/api/v2/eventLogs", params={"before": "yesterday"})).status_code == 422
    assert (await api("").get("/api/v2/eventLogs")).status_code == 401


async def test_favorites_are_per_user(api, contract):
    dag_id = f"fav_{uuid.uuid4().hex[:6]}"
    ann, bob = api("Viewer", username="ann"), api("Viewer", username="bob")
    await register(api("Admin"), dag_id)
    assert (await ann.post(f"/api/v2/dags/{dag_id}/favorite")).status_code == 204
    # Again: nothing changes (Airflow's undocumented 409 is not in its spec).
    assert (await ann.post(f"/api/v2/dags/{dag_id}/favorite")).status_code == 204
    mine = await ann.get("/api/v2/dags", params={"is_favorite": "true"})
    contract.validate("DAGCollectionResponse", mine.json())
    assert [d["dag_id"] for d in mine.json()["dags"]] == [dag_id]
    assert (await bob.get("/api/v2/dags", params={"is_favorite": "true"})).json()["total_entries"] == 0
    assert (await ann.get(f"/api/v2/dags/{dag_id}/details")).json()["is_favorite"] is True
    assert (await bob.get(f"/api/v2/dags/{dag_id}/details")).json()["is_favorite"] is False
    not_mine = await bob.post(f"/api/v2/dags/{dag_id}/unfavorite")
    assert not_mine.status_code == 409 and not_mine.json() == {"detail": "Dag is not marked as favorite"}
    assert (await ann.post(f"/api/v2/dags/{dag_id}/unfavorite")).status_code == 204
    ghost = await ann.post("/api/v2/dags/no_such_dag/favorite")
    assert ghost.status_code == 404 and ghost.json() == {"detail": "Dag with id 'no_such_dag' not found"}


async def test_config_is_not_exposed_by_default(api, contract):
    response = await api("Viewer").get("/api/v2/config")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Your Airflow administrator chose not to expose the configuration, most likely for security reasons."
    }
    assert (await api("Viewer").get("/api/v2/config/section/api_gateway/option/port")).status_code == 403
    assert (await api("").get("/api/v2/config")).status_code == 401


async def test_exposed_config_shows_settings_but_never_secrets(api, contract):
    client = api("Viewer", expose_config=True)
    response = await client.get("/api/v2/config")
    assert response.status_code == 200, response.text
    contract.validate("Config", response.json())
    sections = {s["name"]: {o["key"]: o["value"] for o in s["options"]} for s in response.json()["sections"]}
    assert sections["api_gateway"]["expose_config"] == "True"
    assert sections["security"]["jwt_secret"] == "< hidden >"
    assert JWT_SECRET not in response.text
    text = await client.get("/api/v2/config", params={"section": "security"}, headers={"Accept": "text/plain"})
    assert text.status_code == 200 and text.headers["content-type"].startswith("text/plain")
    assert text.text.startswith("[security]\n") and "jwt_secret = < hidden >" in text.text
    option = await client.get("/api/v2/config/section/api_gateway/option/instance_name")
    assert option.json() == {"sections": [{"name": "api_gateway", "options": [{"key": "instance_name", "value": "Leoflow"}]}]}
    assert (await client.get("/api/v2/config", params={"section": "nope"})).json() == {"detail": "Section nope not found."}
    missing = await client.get("/api/v2/config/section/api_gateway/option/nope")
    assert missing.status_code == 404 and missing.json() == {"detail": "Option [api_gateway/nope] not found."}
    xml = await client.get("/api/v2/config", headers={"Accept": "application/xml"})
    assert xml.status_code == 406


async def test_providers_is_the_empty_collection(api, contract):
    response = await api("Viewer").get("/api/v2/providers")
    assert response.status_code == 200
    contract.validate("ProviderCollectionResponse", response.json())
    assert response.json() == {"providers": [], "total_entries": 0}
    assert (await api("Viewer").get("/api/v2/providers", params={"limit": -1})).status_code == 422
