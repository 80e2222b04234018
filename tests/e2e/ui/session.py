"""Set-up of the browser test against a running Lite: the test DAG compiled,
pushed and run once, and users of other roles created through the scheduler's
IdentityService (as an admin would)."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from leoflow_common.grpc import client_channel, static_token
from leoflow_proto.scheduler.v1 import identity_pb2, identity_pb2_grpc

from tests.e2e.driver import Driver, compile_dag
from tests.e2e.lite_process import LiteProcess

UI_DAGS = Path(__file__).parent / "dags"
UI_DAG_ID = "e2e_ui"
# Every task of the test DAG, as the grid names its rows once groups are expanded.
UI_DAG_TASKS = ("hello", "stats.double", "stats.double__1", "stats.double__2", "stats.total")
_SCHEDULER_PORT = re.compile(r"scheduler serving gRPC on port (\d+)")


@dataclass
class Seeded:
    """What the pages of the test visit: the DAG and one finished run of it."""

    dag_id: str
    run_id: str


async def push_and_run_ui_dag(driver: Driver, workdir: Path, leoflow_home: Path) -> Seeded:
    """Compile the browser test's DAG (in a copy: compiling writes next to dag.py),
    push it, and run it once to the end through the REST API."""
    target = workdir / UI_DAG_ID
    shutil.copytree(UI_DAGS / UI_DAG_ID, target, dirs_exist_ok=True)
    spec = compile_dag(target, leoflow_home)
    run, states = await driver.run_dag(spec, conf={"count": 3})
    assert run["state"] == "success", states
    return Seeded(UI_DAG_ID, run["dag_run_id"])


async def create_user(lite: LiteProcess, admin: Driver, username: str, password: str, role: str) -> None:
    """A user with `role`, made through the scheduler's IdentityService with the
    admin's own token (Lite's scheduler listens on a port it logs at start)."""
    found = _SCHEDULER_PORT.search(lite.output())
    assert found, "Lite did not log its scheduler's port"
    channel = client_channel(f"127.0.0.1:{found.group(1)}", static_token(admin.token))
    try:
        await identity_pb2_grpc.IdentityServiceStub(channel).SetUserPassword(
            identity_pb2.SetUserPasswordRequest(username=username, password=password, roles=[role])
        )
    finally:
        await channel.close()
