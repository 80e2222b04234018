"""GET /api/v2/importErrors[/{id}] against the real scheduler: what a DAG source
recorded, in Airflow 3.2.2's shapes, with its filters, paging and 404s; the DAG
list's has_import_errors follows."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from leoflow_api_gateway import GatewayClients
from leoflow_common.auth import TokenCodec
from leoflow_common.grpc import client_channel, static_token
from leoflow_common.settings import BusSettings, SecuritySettings
from leoflow_common.testing import free_port
from leoflow_common.testing.pytest_plugin import create_database, drop_database
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.scheduler.v1 import import_errors_pb2 as ie
from leoflow_proto.scheduler.v1 import import_errors_pb2_grpc, registry_pb2, registry_pb2_grpc
from leoflow_scheduler.app import SchedulerApp
from leoflow_scheduler.settings import SchedulerSettings

SECRET = "import-errors-route-tests-secret-0123456789"
CODEC = TokenCodec(SECRET)


@pytest.fixture(scope="module")
async def scheduler() -> AsyncIterator[SchedulerApp]:
    name = f"leoflow_gw_ie_{uuid.uuid4().hex[:10]}"
    dsn = await create_database(name)
    app = SchedulerApp(
        SchedulerSettings(
            database_url=dsn, grpc_bind="127.0.0.1:0", dags_are_paused_at_creation=False,
            security=SecuritySettings(jwt_secret=SECRET), bus=BusSettings(url="memory://"),
        )
    )
    await app.start()
    yield app
    await app.stop()
    await drop_database(name)


@pytest.fixture
async def source(scheduler):
    """The scheduler's registry and import-error services, as a DAG source calls them."""
    channel = client_channel(f"127.0.0.1:{scheduler.grpc_port}", static_token(CODEC.mint_service("lite")))
    yield registry_pb2_grpc.DagRegistryServiceStub(channel), import_errors_pb2_grpc.ImportErrorServiceStub(channel)
    await channel.close()


@pytest.fixture
async def api(scheduler, gateway_client, make_settings):
    nowhere = f"127.0.0.1:{free_port()}"
    clients = GatewayClients.connect(scheduler=f"127.0.0.1:{scheduler.grpc_port}", xcom=nowhere, logs=nowhere)
    client = gateway_client(make_settings(security=SecuritySettings(jwt_secret=SECRET)), clients)
    client.headers["Authorization"] = f"Bearer {CODEC.mint_user('viewer', 'default', ['Viewer'])}"
    yield client
    await clients.close()


def spec(dag_id: str) -> dag_pb2.DagSpec:
    result = dag_pb2.DagSpec(schema_version="1", dag_id=dag_id)
    result.source.relative_fileloc = "dag.py"
    task = result.tasks.add(task_id="t", kind=dag_pb2.OPERATOR_KIND_BASH, operator_name="BashOperator")
    task.bash.bash_command = "echo t"
    return result


async def test_recorded_errors_are_listed_and_fetched_in_airflows_shape(api, source, contract):
    registry, errors = source
    dag_id = f"broken_{uuid.uuid4().hex[:6]}"
    await registry.RegisterDagVersion(registry_pb2.RegisterDagVersionRequest(spec=spec(dag_id)))
    recorded = (
        await errors.RecordImportError(
            ie.RecordImportErrorRequest(
                filename=f"{dag_id}/dag.py", bundle_name="dags-folder", dag_id=dag_id,
                stack_trace="dag.py:4: NameError: name 'nope' is not defined", replaces_prefix=f"{dag_id}/",
            )
        )
    ).import_error

    listed = await api.get("/api/v2/importErrors", params={"filename_pattern": dag_id})
    assert listed.status_code == 200
    contract.validate("ImportErrorCollectionResponse", listed.json())
    assert listed.json()["total_entries"] == 1
    [item] = listed.json()["import_errors"]
    assert item["import_error_id"] == recorded.id and item["filename"] == f"{dag_id}/dag.py"
    assert item["bundle_name"] == "dags-folder" and "NameError" in item["stack_trace"]

    one = await api.get(f"/api/v2/importErrors/{recorded.id}")
    assert one.status_code == 200
    contract.validate("ImportErrorResponse", one.json())
    assert one.json() == item

    flagged = await api.get("/api/v2/dags", params={"has_import_errors": "true", "dag_id_pattern": dag_id})
    assert [d["dag_id"] for d in flagged.json()["dags"]] == [dag_id]
    assert flagged.json()["dags"][0]["has_import_errors"] is True

    await errors.ClearImportErrors(ie.ClearImportErrorsRequest(bundle_name="dags-folder", filename_prefix=f"{dag_id}/"))
    assert (await api.get(f"/api/v2/importErrors/{recorded.id}")).status_code == 404
    after = await api.get("/api/v2/dags", params={"has_import_errors": "false", "dag_id_pattern": dag_id})
    assert [d["has_import_errors"] for d in after.json()["dags"]] == [False]


async def test_paging_ordering_and_prefix_filters(api, source):
    _, errors = source
    tag = uuid.uuid4().hex[:6]
    for name in ("a", "b", "c"):
        await errors.RecordImportError(
            ie.RecordImportErrorRequest(filename=f"{tag}_{name}/dag.py", bundle_name="dags-folder", stack_trace="x")
        )
    page = await api.get("/api/v2/importErrors", params={"filename_prefix_pattern": tag, "order_by": "-filename", "limit": 2})
    body = page.json()
    assert page.status_code == 200 and body["total_entries"] == 3
    assert [e["filename"] for e in body["import_errors"]] == [f"{tag}_c/dag.py", f"{tag}_b/dag.py"]
    rest = await api.get("/api/v2/importErrors", params={"filename_prefix_pattern": tag, "order_by": "-filename", "offset": 2})
    assert [e["filename"] for e in rest.json()["import_errors"]] == [f"{tag}_a/dag.py"]


async def test_bad_requests_answer_airflows_errors(api, offline, token_for):
    assert (await api.get("/api/v2/importErrors/999999")).json() == {
        "detail": "The ImportError with import_error_id: `999999` was not found"
    }
    assert (await api.get("/api/v2/importErrors/0")).status_code == 404
    bad_id = await api.get("/api/v2/importErrors/abc")
    assert bad_id.status_code == 422 and bad_id.json()["detail"][0]["loc"] == ["path", "import_error_id"]
    bad_order = await api.get("/api/v2/importErrors", params={"order_by": "nope"})
    assert bad_order.status_code == 422 and "nope" in bad_order.json()["detail"][0]["msg"]
    assert (await offline.get("/api/v2/importErrors")).status_code == 401
