"""The runner's "prepare" frame: the DAG file loads ahead, the task's code waits for
the work frame (the agent sends it only once RUNNING was acknowledged)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from leoflow_agent.frames import encode_frame

from services.agent.tests.test_runner_protocol import CONTEXT, run_runner

DAG = """
from pathlib import Path
from airflow.sdk import dag, task

HERE = Path(__file__).parent
with open(HERE / "loads", "a") as loads:
    loads.write("load\\n")
{broken}

@dag(schedule=None)
def demo():
    @task
    def work(a):
        (HERE / "called").write_text(str(a))
        return a * 2

    @task
    def other():
        return "other"

    work(1)
    other()

demo()
"""


@pytest.fixture
def bundle(tmp_path: Path):
    def write(broken: str = "") -> Path:
        (tmp_path / "dag.py").write_text(textwrap.dedent(DAG).format(broken=broken))
        return tmp_path
    return write


def frame(bundle: Path, frame_type: str, task_id: str = "work", **fields) -> dict:
    return {
        "type": frame_type, "bundle_dir": str(bundle), "dag_file": "dag.py", "dag_id": "demo",
        "task_id": task_id, "context": {**CONTEXT, "task_id": task_id}, **fields,
    }


def prepare(bundle: Path, task_id: str = "work") -> bytes:
    message = frame(bundle, "prepare", task_id)
    message["work"] = "run"
    return encode_frame(message)


def run(bundle: Path, task_id: str = "work", args=(1,)) -> bytes:
    return encode_frame(frame(bundle, "run", task_id, args=list(args), kwargs={}))


def loads(bundle: Path) -> int:
    return (bundle / "loads").read_text().count("load")


def test_prepared_work_runs_on_the_work_frame_with_the_dag_file_loaded_once(bundle):
    path = bundle()
    code, reply, _, _ = run_runner(path, prepare(path) + run(path, args=[21]))
    assert code == 0
    assert reply["type"] == "result" and reply["value"] == 42
    assert loads(path) == 1


def test_prepare_alone_loads_the_dag_file_but_never_calls_the_task(bundle):
    path = bundle()
    code, reply, _, stderr = run_runner(path, prepare(path))
    assert code == 3 and reply is None  # end of file without a work frame: broken channel
    assert loads(path) == 1
    assert not (path / "called").exists()
    assert "expected a work frame" in stderr


def test_a_dag_file_that_fails_to_load_ahead_fails_the_work_as_loading_it_then_would(bundle):
    path = bundle(broken="raise RuntimeError('no DAG today')")
    code, reply, _, _ = run_runner(path, prepare(path) + run(path))
    cold_code, cold_reply, _, _ = run_runner(path, run(path))
    assert code == cold_code == 1
    assert reply["type"] == cold_reply["type"] == "error"
    assert (reply["kind"], reply["exc_type"], reply["message"]) == (cold_reply["kind"], cold_reply["exc_type"], cold_reply["message"])
    assert not (path / "called").exists()


def test_work_for_another_task_than_prepared_is_loaded_for_that_task(bundle):
    path = bundle()
    code, reply, _, _ = run_runner(path, prepare(path, "work") + run(path, "other", args=()))
    assert code == 0
    assert reply["value"] == "other"
    assert not (path / "called").exists()
