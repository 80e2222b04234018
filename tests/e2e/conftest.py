"""End-to-end fixtures: one Lite and one multi-process stack per test session.

Each deployment's tests are grouped (xdist_group) so that one worker starts it
once and runs all its tests; the other worker runs the other deployment."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from leoflow_common.testing.pytest_plugin import create_database, drop_database

from tests.e2e.driver import Driver, compile_dag
from tests.e2e.lite_process import LiteProcess, start_lite
from tests.e2e.stack import REPO, Stack, start_stack

DAGS = Path(__file__).parent / "dags"
# Per-DAG virtualenvs are named by content hash, so every session may share them.
SHARED_HOME = REPO / "var" / "test-home"


@pytest.fixture(scope="session")
def e2e_dags(tmp_path_factory) -> Path:
    """A private copy of the e2e DAG folders (compiling writes dag.json next to dag.py)."""
    target = tmp_path_factory.mktemp("e2e-dags")
    shutil.copytree(DAGS, target, dirs_exist_ok=True)
    return target


@pytest.fixture(scope="session")
def compiled(e2e_dags):
    """compiled(name) -> dag.json of tests/e2e/dags/<name>, compiled once per session."""
    cache: dict[str, dict] = {}

    def get(name: str) -> dict:
        if name not in cache:
            cache[name] = compile_dag(e2e_dags / name, SHARED_HOME)
        return cache[name]

    return get


@pytest.fixture(scope="session")
async def stack(tmp_path_factory, amqp_url, redis_url):
    name = f"leoflow_e2e_{uuid.uuid4().hex[:10]}"
    dsn = await create_database(name)
    running: Stack = await start_stack(
        tmp_path_factory.mktemp("stack"), database_url=dsn, leoflow_home=SHARED_HOME, amqp_url=amqp_url, redis_url=redis_url
    )
    yield running
    running.stop()
    await drop_database(name)


@pytest.fixture(scope="session")
async def lite(tmp_path_factory):
    home = tmp_path_factory.mktemp("lite-home")
    process: LiteProcess = await start_lite(home / ".leoflow", home / "workspace")
    yield process
    process.stop()


@pytest.fixture(
    scope="session",
    params=[
        pytest.param("lite", marks=pytest.mark.xdist_group("lite")),
        pytest.param("stack", marks=pytest.mark.xdist_group("stack")),
    ],
)
def deployment(request) -> Driver:
    """A logged-in driver of Lite or of the stack (each test runs against both).

    Synchronous on purpose: it picks the async deployment fixture by name, which
    pytest-asyncio can only set up from outside a running event loop."""
    if request.param == "lite":
        lite: LiteProcess = request.getfixturevalue("lite")
        return Driver.login_sync(lite.url, "admin", lite.admin_password)
    stack: Stack = request.getfixturevalue("stack")
    return Driver.login_sync(stack.gateway_url, "admin", stack.admin_password)
