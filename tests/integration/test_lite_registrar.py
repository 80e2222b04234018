"""Lite's registrar against a real scheduler (PostgreSQL): a workspace's folders
compiled and registered, broken ones reported as import errors while their last
good version stays, fixed ones cleared, deleted ones deregistered, a folder that
changes its dag_id, two folders claiming one dag_id, and a warm start that
compiles nothing unchanged."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from leoflow_common.auth import TokenCodec
from leoflow_common.grpc import client_channel, static_token
from leoflow_common.settings import BusSettings, SecuritySettings
from leoflow_common.testing.pytest_plugin import create_database, drop_database
from leoflow_proto.scheduler.v1 import (
    import_errors_pb2,
    import_errors_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)
from leoflow_scheduler.app import SchedulerApp
from leoflow_scheduler.settings import SchedulerSettings

from leoflow.lite.registrar import DagRegistrar
from leoflow.lite.workspace import WorkspaceIndex

REPO = Path(__file__).resolve().parents[2]
# Virtualenvs are named by content: every test session may share them.
SHARED_HOME = REPO / "var" / "test-home"
SECRET = "lite-registrar-tests-secret-0123456789abcd"
CODEC = TokenCodec(SECRET)

DAG = '''from airflow.sdk import DAG, task


@task
def only() -> str:
    return "{word}"


with DAG("{dag_id}", schedule=None):
    only()
'''


class Reporter:
    """Records what the registrar reports, per folder."""

    def __init__(self):
        self.begun: list[str] = []
        self.ends: list[tuple[str, str, bool]] = []

    def begin(self, folder):
        self.begun.append(folder)

    def step(self, folder, message):
        pass

    def end(self, folder, outcome, ok):
        self.ends.append((folder, outcome, ok))


@pytest.fixture(scope="module")
async def scheduler():
    name = f"leoflow_lite_reg_{uuid.uuid4().hex[:10]}"
    dsn = await create_database(name)
    app = SchedulerApp(
        SchedulerSettings(database_url=dsn, grpc_bind="127.0.0.1:0", dags_are_paused_at_creation=False,
                          security=SecuritySettings(jwt_secret=SECRET), bus=BusSettings(url="memory://"))
    )
    await app.start()
    yield app
    await app.stop()
    await drop_database(name)


@pytest.fixture
async def world(scheduler, tmp_path):
    """(workspace, make_registrar(), registry stub, import-error stub), with a unique dag_id prefix."""
    workspace = tmp_path / "workspace"
    workspace.mkdir()
    address = f"127.0.0.1:{scheduler.grpc_port}"
    channel = client_channel(address, static_token(CODEC.mint_service("test")))
    made: list[DagRegistrar] = []

    def make_registrar() -> tuple[DagRegistrar, Reporter]:
        reporter = Reporter()
        registrar = DagRegistrar(
            workspace=workspace, home=SHARED_HOME, index=WorkspaceIndex.load(tmp_path / "workspace.json"),
            scheduler_address=address, token=CODEC.mint_user("admin", "default", ["Admin"]),
            reporter=reporter, compiled_dir=tmp_path / "compiled",
        )
        made.append(registrar)
        return registrar, reporter

    yield workspace, make_registrar, registry_pb2_grpc.DagRegistryServiceStub(channel), import_errors_pb2_grpc.ImportErrorServiceStub(channel)
    for registrar in made:
        await registrar.stop()
    await channel.close()


def write(workspace: Path, folder: str, dag_id: str, word: str = "one", yaml_extra: str = "") -> None:
    (workspace / folder).mkdir(exist_ok=True)
    (workspace / folder / "dag.py").write_text(DAG.format(dag_id=dag_id, word=word))
    (workspace / folder / "leoflow.yaml").write_text(f'dag_id: {dag_id}\npython_version: "3.11"\n{yaml_extra}')


async def get_dag(registry, dag_id):
    return (await registry.GetDag(registry_pb2.GetDagRequest(dag_id=dag_id))).dag


async def errors_of(errors, prefix):
    page = await errors.ListImportErrors(import_errors_pb2.ListImportErrorsRequest(filename_prefix_pattern=prefix))
    return {e.filename: e for e in page.import_errors}


def uid(name: str) -> str:
    return f"{name}_{uuid.uuid4().hex[:6]}"


async def test_register_break_fix_and_remove(world):
    workspace, make_registrar, registry, errors = world
    registrar, reporter = make_registrar()
    dag_id = uid("sales")
    write(workspace, dag_id, dag_id)
    await registrar.sync_all()
    assert (await get_dag(registry, dag_id)).latest_version.version_number == 1

    (workspace / dag_id / "dag.py").write_text("this is not python (\n")
    await registrar.refresh(dag_id)
    broken = await errors_of(errors, dag_id)
    assert list(broken) == [f"{dag_id}/dag.py"] and broken[f"{dag_id}/dag.py"].dag_id == dag_id
    dag = await get_dag(registry, dag_id)
    assert dag.has_import_errors and dag.latest_version.version_number == 1  # the last good version stays
    assert reporter.ends[-1][2] is False

    write(workspace, dag_id, dag_id, word="two")
    await registrar.refresh(dag_id)
    assert await errors_of(errors, dag_id) == {}
    dag = await get_dag(registry, dag_id)
    assert not dag.has_import_errors and dag.latest_version.version_number == 2

    for path in (workspace / dag_id).iterdir():
        path.unlink()
    (workspace / dag_id).rmdir()
    await registrar.refresh(dag_id)
    assert (await get_dag(registry, dag_id)).is_stale
    assert dag_id not in registrar.index.folders


async def test_a_broken_leoflow_yaml_is_blamed_on_the_folders_last_dag(world):
    workspace, make_registrar, registry, errors = world
    registrar, _ = make_registrar()
    dag_id = uid("yaml")
    write(workspace, dag_id, dag_id)
    await registrar.refresh(dag_id)
    (workspace / dag_id / "leoflow.yaml").write_text("dag_id: [unclosed\n")
    await registrar.refresh(dag_id)
    found = await errors_of(errors, dag_id)
    assert list(found) == [f"{dag_id}/leoflow.yaml"]
    assert found[f"{dag_id}/leoflow.yaml"].dag_id == dag_id and "leoflow.yaml:" in found[f"{dag_id}/leoflow.yaml"].stack_trace
    assert (await get_dag(registry, dag_id)).has_import_errors


async def test_a_folder_that_changes_its_dag_id_deregisters_the_old_one(world):
    workspace, make_registrar, registry, _ = world
    registrar, _ = make_registrar()
    folder, old, new = uid("folder"), uid("old"), uid("new")
    write(workspace, folder, old)
    await registrar.refresh(folder)
    write(workspace, folder, new)
    await registrar.refresh(folder)
    assert (await get_dag(registry, old)).is_stale
    assert not (await get_dag(registry, new)).is_stale


async def test_two_folders_cannot_define_one_dag(world):
    workspace, make_registrar, registry, errors = world
    registrar, _ = make_registrar()
    dag_id, first, second = uid("twice"), uid("first"), uid("second")
    write(workspace, first, dag_id)
    await registrar.refresh(first)
    write(workspace, second, dag_id, word="other")
    await registrar.refresh(second)
    found = await errors_of(errors, second)
    assert "already defined by folder" in found[f"{second}/leoflow.yaml"].stack_trace
    assert (await get_dag(registry, dag_id)).latest_version.version_number == 1


async def test_a_warm_start_compiles_only_what_changed_and_deregisters_what_left(world):
    workspace, make_registrar, registry, errors = world
    kept, edited, gone = uid("kept"), uid("edited"), uid("gone")
    for name in (kept, edited, gone):
        write(workspace, name, name)
    first, _ = make_registrar()
    await first.sync_all()
    await first.stop()

    # While "Lite" is down: one folder edited, one deleted, and a stale error left behind.
    write(workspace, edited, edited, word="changed")
    for path in (workspace / gone).iterdir():
        path.unlink()
    (workspace / gone).rmdir()
    await errors.RecordImportError(
        import_errors_pb2.RecordImportErrorRequest(filename="vanished/dag.py", bundle_name="dags-folder", stack_trace="x")
    )

    second, reporter = make_registrar()
    await second.sync_all()
    assert kept not in reporter.begun and edited in reporter.begun
    assert (await get_dag(registry, edited)).latest_version.version_number == 2
    assert (await get_dag(registry, kept)).latest_version.version_number == 1
    assert (await get_dag(registry, gone)).is_stale
    assert "vanished/dag.py" not in await errors_of(errors, "vanished")


async def test_changes_during_a_refresh_are_not_lost(world):
    workspace, make_registrar, registry, _ = world
    registrar, _ = make_registrar()
    dag_id = uid("busy")
    write(workspace, dag_id, dag_id)
    registrar.request(dag_id)
    write(workspace, dag_id, dag_id, word="later")  # saved while the first compile runs
    registrar.request(dag_id)
    await registrar.idle()
    spec = (await registry.GetDagVersion(registry_pb2.GetDagVersionRequest(dag_id=dag_id))).dag_version.spec
    assert '"later"' in spec.source.content
