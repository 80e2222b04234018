"""Per-DAG virtualenvs in Lite: two DAGs pinning conflicting versions of the same
small pure-Python package both run, each with its own version (and its own
interpreter); the environment is built once per content hash, with its progress
shown in Lite's console."""

from __future__ import annotations

import pytest
from leoflow_common.testing import assert_eventually

from tests.e2e.driver import Driver

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("lite")]

PINS = {"lite_six_old": "six==1.16.0", "lite_six_new": "six==1.17.0"}

DAG = '''\
import sys

import six  # at the top: compiling the DAG needs its own environment too

from airflow.sdk import DAG, task

SEEN_AT_COMPILE = six.__version__


@task
def which() -> dict:
    import six as at_run

    return {{"six": at_run.__version__, "compiled_with": SEEN_AT_COMPILE, "python": sys.executable}}


with DAG("{dag_id}", schedule=None):
    which()
'''


def write_dag(workspace, dag_id: str, pin: str) -> None:
    folder = workspace / dag_id
    folder.mkdir()
    (folder / "dag.py").write_text(DAG.format(dag_id=dag_id))
    (folder / "leoflow.yaml").write_text(f'dag_id: {dag_id}\npython_version: "3.11"\ndependencies: ["{pin}"]\n')


async def test_conflicting_pins_each_run_with_their_own_version(lite):
    driver = await Driver.login(lite.url, "admin", lite.admin_password)
    for dag_id, pin in PINS.items():
        write_dag(lite.workspace, dag_id, pin)

    async def registered():
        listed = (await driver.request("GET", "/api/v2/dags", params={"dag_id_pattern": "lite_six_"})).json()
        return {d["dag_id"] for d in listed["dags"]} == set(PINS)

    await assert_eventually(registered, timeout=300, interval=0.2, message="both DAGs registered")
    seen = {}
    for dag_id in PINS:
        run = await driver.trigger(dag_id)
        finished = await driver.wait_run_finished(dag_id, run["dag_run_id"], timeout=180)
        assert finished["state"] == "success", await driver.task_states(dag_id, run["dag_run_id"])
        seen[dag_id] = await driver.xcom(dag_id, run["dag_run_id"], "which")

    assert seen["lite_six_old"]["six"] == seen["lite_six_old"]["compiled_with"] == "1.16.0"
    assert seen["lite_six_new"]["six"] == seen["lite_six_new"]["compiled_with"] == "1.17.0"
    assert seen["lite_six_old"]["python"] != seen["lite_six_new"]["python"]  # two virtualenvs
    output = lite.output()
    assert "lite_six_old: installing 1 dependencies" in output and "lite_six_new: installing 1 dependencies" in output
