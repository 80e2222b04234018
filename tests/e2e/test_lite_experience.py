"""Lite as a user meets it, from an empty HOME: `leoflow lite` comes up with the
examples, they run; `leoflow init` + save is a registered DAG; an edit is a new
version that the next run uses; a broken edit is an import error while the last
good version keeps running; a deleted folder deregisters its DAG (history kept);
one Lite per home; reset-password; Ctrl-C and a crash leave nothing behind;
backup and restore into another home.

The tests run in file order against one Lite (module fixture), like a session."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from leoflow_common.testing import assert_eventually

from tests.e2e.driver import LEOFLOW_CLI, Driver, p
from tests.e2e.lite_process import LiteProcess, start_lite

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("lite_experience")]

GREET_V1 = "[3, 1, 4, 1, 5]"
GREET_V2 = "[2, 7]"


class Session:
    """The Lite under test and what the tests learn along the way."""

    def __init__(self, root: Path):
        self.root = root
        self.home = root / "home"  # HOME: empty at first
        self.leoflow_home = self.home / ".leoflow"
        self.workspace = self.home / "leoflow"  # the default workspace, ~/leoflow
        self.lite: LiteProcess | None = None
        self.password = ""
        self.backup_password = ""
        self.figures: dict[str, float] = {}

    @property
    def env(self) -> dict[str, str]:
        return {"HOME": str(self.home), "LEOFLOW_HOME": str(self.leoflow_home)}

    async def start(self) -> LiteProcess:
        self.lite = await start_lite(self.leoflow_home, self.workspace, extra_env=self.env, password=self.password or None)
        self.password = self.lite.admin_password
        return self.lite

    async def driver(self) -> Driver:
        return await Driver.login(self.lite.url, "admin", self.password)

    def cli(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run([str(LEOFLOW_CLI), *args], env={**os.environ, **self.env, **(env or {})},
                              capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
async def session(tmp_path_factory):
    state = Session(tmp_path_factory.mktemp("lite-experience"))
    state.home.mkdir()
    await state.start()
    yield state
    if state.lite is not None:
        state.lite.stop()


async def dag(driver: Driver, dag_id: str) -> dict:
    return (await driver.request("GET", f"/api/v2/dags/{p(dag_id)}")).json()


async def latest_version(driver: Driver, dag_id: str) -> int:
    response = await driver.request("GET", f"/api/v2/dags/{p(dag_id)}/dagVersions", params={"order_by": "-version_number", "limit": 1})
    versions = response.json()["dag_versions"]
    return versions[0]["version_number"] if versions else 0


async def wait_version(driver: Driver, dag_id: str, number: int, within: float = 120) -> None:
    async def registered():
        try:
            return await latest_version(driver, dag_id) == number
        except AssertionError:
            return False  # not registered at all yet

    await assert_eventually(registered, timeout=within, interval=0.05, message=f"{dag_id} version {number}")


async def run_to_end(driver: Driver, dag_id: str) -> dict:
    run = await driver.trigger(dag_id)
    return await driver.wait_run_finished(dag_id, run["dag_run_id"], timeout=180)


async def import_errors(driver: Driver) -> list[dict]:
    return (await driver.request("GET", "/api/v2/importErrors")).json()["import_errors"]


def processes_mentioning(*needles: str) -> list[str]:
    """Command lines of live processes that mention any of `needles`."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if int(pid) == os.getpid() or any(arg.endswith("pytest") for arg in argv[:2]):
            continue  # this test run (its temporary paths mention the home)
        cmdline = " ".join(argv)
        if any(needle in cmdline for needle in needles):
            found.append(f"{pid}: {cmdline[:160]}")
    return found


def pg_data_dir(session: Session) -> str:
    location = session.leoflow_home / "lite" / "pgdata-location"
    return location.read_text().strip() if location.exists() else str(session.leoflow_home / "lite" / "pgdata")


# -- first start ------------------------------------------------------------------------


async def test_first_start_copies_the_examples_and_they_run_to_success(session):
    driver = await session.driver()
    assert sorted(p.name for p in session.workspace.iterdir()) == ["etl_sales", "hparam_search"]
    listed = (await driver.request("GET", "/api/v2/dags")).json()
    assert {"etl_sales", "hparam_search"} <= {d["dag_id"] for d in listed["dags"]}
    for dag_id in ("etl_sales", "hparam_search"):
        run = await run_to_end(driver, dag_id)
        assert run["state"] == "success", await driver.task_states(dag_id, run["dag_run_id"])
    # The UI is served at the root, the editor at /ide (behind the login).
    async with httpx.AsyncClient(base_url=session.lite.url) as http:
        assert (await http.get("/api/v2/version")).status_code == 200
        editor = await http.get("/ide/", follow_redirects=False)
        assert editor.status_code == 302 and "/auth/login" in editor.headers["location"]


async def test_init_then_save_registers_a_dag_that_runs(session):
    driver = await session.driver()
    made = session.cli("init", "greet", "--dir", str(session.workspace))
    assert made.returncode == 0, made.stderr
    await wait_version(driver, "greet", 1)
    run = await run_to_end(driver, "greet")
    assert run["state"] == "success"
    assert await driver.xcom("greet", run["dag_run_id"], "load") == "loaded 5 values, total 14"


async def test_an_edit_is_hot_reloaded_and_the_next_run_uses_it(session):
    driver = await session.driver()
    dag_file = session.workspace / "greet" / "dag.py"
    saved = time.monotonic()
    dag_file.write_text(dag_file.read_text().replace(GREET_V1, GREET_V2))
    await wait_version(driver, "greet", 2, within=30)
    session.figures["save_to_version_s"] = time.monotonic() - saved
    print(f"save -> version 2 registered in {session.figures['save_to_version_s']:.2f}s")
    run = await run_to_end(driver, "greet")
    assert run["state"] == "success"
    assert await driver.xcom("greet", run["dag_run_id"], "load") == "loaded 2 values, total 9"


async def test_a_broken_edit_is_an_import_error_and_the_last_good_version_keeps_running(session):
    driver = await session.driver()
    dag_file = session.workspace / "greet" / "dag.py"
    good = dag_file.read_text()
    dag_file.write_text(good + "\nbroken = (\n")

    async def reported():
        errors = [e for e in await import_errors(driver) if e["filename"] == "greet/dag.py"]
        return errors[0] if errors else None

    error = await assert_eventually(reported, timeout=60, message="import error of greet/dag.py")
    assert "dag.py:" in error["stack_trace"] and "never closed" in error["stack_trace"], error
    assert error["bundle_name"] == "dags-folder"
    flagged = await dag(driver, "greet")
    assert flagged["has_import_errors"] is True and flagged["is_stale"] is False
    only_broken = (await driver.request("GET", "/api/v2/dags", params={"has_import_errors": "true"})).json()
    assert [d["dag_id"] for d in only_broken["dags"]] == ["greet"]
    assert await latest_version(driver, "greet") == 2
    run = await run_to_end(driver, "greet")
    assert run["state"] == "success"
    assert await driver.xcom("greet", run["dag_run_id"], "load") == "loaded 2 values, total 9"

    dag_file.write_text(good)  # fixed: the error clears, and the content is version 2's again

    async def cleared():
        return not await import_errors(driver) and not (await dag(driver, "greet"))["has_import_errors"]

    await assert_eventually(cleared, timeout=60, message="import error cleared")
    assert await latest_version(driver, "greet") == 2


async def test_a_broken_leoflow_yaml_names_the_file_and_line(session):
    driver = await session.driver()
    project = session.workspace / "greet" / "leoflow.yaml"
    good = project.read_text()
    project.write_text(good + "retries_typo: 3\n")

    async def reported():
        errors = [e for e in await import_errors(driver) if e["filename"] == "greet/leoflow.yaml"]
        return errors[0] if errors else None

    error = await assert_eventually(reported, timeout=60, message="import error of greet/leoflow.yaml")
    assert "leoflow.yaml:" in error["stack_trace"] and "retries_typo" in error["stack_trace"]
    assert (await dag(driver, "greet"))["has_import_errors"] is True
    project.write_text(good)
    await assert_eventually(lambda: _no_errors(driver), timeout=60, message="cleared")


async def _no_errors(driver: Driver) -> bool:
    return not await import_errors(driver)


async def test_a_new_folder_registers_and_a_deleted_one_deregisters_keeping_history(session):
    driver = await session.driver()
    assert session.cli("init", "extra", "--dir", str(session.workspace)).returncode == 0
    await wait_version(driver, "extra", 1)
    run = await run_to_end(driver, "extra")
    shutil.rmtree(session.workspace / "extra")

    async def stale():
        return (await dag(driver, "extra"))["is_stale"]

    await assert_eventually(stale, timeout=60, message="extra deregistered")
    active = (await driver.request("GET", "/api/v2/dags")).json()
    assert "extra" not in {d["dag_id"] for d in active["dags"]}
    everything = (await driver.request("GET", "/api/v2/dags", params={"exclude_stale": "false"})).json()
    assert "extra" in {d["dag_id"] for d in everything["dags"]}
    history = (await driver.request("GET", f"/api/v2/dags/extra/dagRuns/{p(run['dag_run_id'])}")).json()
    assert history["state"] == "success"


async def test_a_second_lite_on_the_same_home_fails_clearly(session):
    second = session.cli("lite", str(session.workspace), "--port", "0", timeout=60)
    assert second.returncode == 1
    assert "already running" in second.stderr and "Traceback" not in second.stderr + second.stdout


async def test_reset_password_while_running(session):
    reset = session.cli("lite", "reset-password")
    assert reset.returncode == 0, reset.stderr
    new = reset.stdout.strip().rsplit(" ", 1)[-1]
    async with httpx.AsyncClient(base_url=session.lite.url) as http:
        assert (await http.post("/auth/token", json={"username": "admin", "password": session.password})).status_code == 401
        assert (await http.post("/auth/token", json={"username": "admin", "password": new})).status_code == 201
    session.password = new
    unknown = session.cli("lite", "reset-password", "--user", "nobody")
    assert unknown.returncode == 2 and "no user 'nobody'" in unknown.stderr


async def test_backup_while_running(session):
    archive = session.root / "lite-backup.tar.gz"
    made = session.cli("lite", "backup", "-o", str(archive), timeout=300)
    assert made.returncode == 0, made.stderr
    assert archive.stat().st_mode & 0o077 == 0  # it holds Lite's secrets: owner only
    session.backup_password = session.password
    again = session.cli("lite", "backup", "-o", str(archive))
    assert again.returncode == 2 and "--force" in again.stderr


# -- stop, crash, restart -----------------------------------------------------------------


SLEEPER = """
import time

from airflow.sdk import DAG, task


@task
def sleep_long() -> None:
    time.sleep(600)


with DAG("sleeper", schedule=None):
    sleep_long()
"""


async def test_ctrl_c_stops_everything_including_running_tasks(session):
    driver = await session.driver()
    folder = session.workspace / "sleeper"
    folder.mkdir()
    (folder / "dag.py").write_text(SLEEPER)
    (folder / "leoflow.yaml").write_text('dag_id: sleeper\npython_version: "3.11"\n')
    await wait_version(driver, "sleeper", 1)
    run = await driver.trigger("sleeper")

    async def running():
        return (await driver.task_states("sleeper", run["dag_run_id"])).get("sleep_long") == "running"

    await assert_eventually(running, timeout=120, message="sleep_long running")
    assert processes_mentioning(str(session.leoflow_home / "venvs"))  # the task's agent (and warm standbys)
    data_dir = pg_data_dir(session)
    session.lite.stop()  # SIGINT, as Ctrl-C
    assert session.lite.process.returncode == 0, session.lite.output()[-2000:]
    assert processes_mentioning(data_dir, str(session.leoflow_home)) == []
    shutil.rmtree(folder)  # deregistered on the next start


async def test_reset_password_while_stopped_then_a_warm_start(session):
    reset = session.cli("lite", "reset-password")
    assert reset.returncode == 0, reset.stderr
    session.password = reset.stdout.strip().rsplit(" ", 1)[-1]
    started = time.monotonic()
    await session.start()
    session.figures["warm_start_s"] = time.monotonic() - started
    print(f"warm start (leoflow lite -> UI ready): {session.figures['warm_start_s']:.2f}s")
    driver = await session.driver()  # the password set while Lite was down
    assert await latest_version(driver, "greet") == 2  # unchanged: not registered again
    assert "admin password" not in session.lite.output()


async def test_a_crash_leaves_nothing_that_blocks_the_next_start(session):
    data_dir = pg_data_dir(session)
    os.kill(session.lite.process.pid, signal.SIGKILL)
    session.lite.process.wait()

    def postgres_gone():
        return not processes_mentioning(data_dir)

    async def gone():
        return postgres_gone()

    await assert_eventually(gone, timeout=30, message=f"PostgreSQL of {data_dir} gone with Lite")
    print("left after SIGKILL:", processes_mentioning(str(session.leoflow_home)))
    await session.start()
    driver = await session.driver()
    run = await run_to_end(driver, "greet")
    assert run["state"] == "success"


async def test_restore_into_another_home(session, tmp_path):
    session.lite.stop()
    other_home = tmp_path / "other-home"
    other_home.mkdir()
    other = {"HOME": str(other_home), "LEOFLOW_HOME": str(other_home / ".leoflow")}
    workspace = other_home / "restored-workspace"
    restored = session.cli("lite", "restore", "-i", str(session.root / "lite-backup.tar.gz"), "--workspace", str(workspace),
                           env=other, timeout=300)
    assert restored.returncode == 0, restored.stderr
    assert (workspace / "greet" / "dag.py").read_text().count(GREET_V2) == 1
    refused = session.cli("lite", "restore", "-i", str(session.root / "lite-backup.tar.gz"), env=other)
    assert refused.returncode == 2 and "--force" in refused.stderr

    # The restored database has the users of the backup: the password of that time.
    lite = await start_lite(other_home / ".leoflow", workspace, extra_env=other, password=session.backup_password)
    try:
        driver = await Driver.login(lite.url, "admin", session.backup_password)
        runs = (await driver.request("GET", "/api/v2/dags/greet/dagRuns")).json()
        assert runs["total_entries"] == 3  # the history came along: the 3 runs of greet before the backup
        assert await latest_version(driver, "greet") >= 2
        run = await run_to_end(driver, "greet")
        assert run["state"] == "success"
    finally:
        lite.stop()
