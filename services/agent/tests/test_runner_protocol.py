"""The child runner, driven directly over its control pipes with real DAG files:
one run frame in, exactly one reply frame out (or none, and the exit status tells
why), the user's traceback on stderr."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from leoflow_agent.frames import encode_frame, read_frame
from leoflow_agent.runner import call_kwargs, check_multiple_outputs

CONTEXT = {
    "dag_id": "demo", "task_id": "work", "run_id": "manual__1", "map_index": -1, "try_number": 1,
    "max_tries": 2, "owner": "airflow", "hostname": "h", "run_type": "manual", "conf": {"c": 1},
    "params": {"p": "v"}, "timezone": "UTC", "logical_date": "2024-01-02T03:04:05+00:00",
    "data_interval_start": None, "data_interval_end": None, "run_after": None, "start_date": None,
}


def run_runner(bundle: Path, raw_input: bytes, *, timeout: float = 60) -> tuple[int, dict | None, str, str]:
    """Start the runner as the agent does; return (exit code, reply, stdout, stderr)."""
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-P", "-m", "leoflow_agent.runner", "--control-in", str(to_child_r), "--control-out", str(from_child_w)],
        cwd=bundle, pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    os.close(to_child_r)
    os.close(from_child_w)
    replies: list = []
    with os.fdopen(from_child_r, "rb") as reply_stream:
        reader = threading.Thread(target=lambda: replies.append(read_frame(reply_stream)))
        reader.start()
        with os.fdopen(to_child_w, "wb") as request_stream:
            request_stream.write(raw_input)
        stdout, stderr = process.communicate(timeout=timeout)
        reader.join(timeout)
    return process.returncode, replies[0], stdout.decode(), stderr.decode()


def run_task(bundle: Path, *, task_id: str = "work", args=(), kwargs=None, multiple_outputs=False):
    message = {
        "type": "run", "bundle_dir": str(bundle), "dag_file": "dag.py", "dag_id": "demo", "task_id": task_id,
        "args": list(args), "kwargs": kwargs or {}, "multiple_outputs": multiple_outputs, "context": {**CONTEXT, "task_id": task_id},
    }
    return run_runner(bundle, encode_frame(message))


@pytest.fixture
def bundle(tmp_path):
    def write(body: str) -> Path:
        source = "from airflow.sdk import dag, task, get_current_context\n" + "from airflow.exceptions import AirflowSkipException, AirflowFailException\n"
        source += "import os, sys, datetime\n\n@dag(schedule=None)\ndef demo():\n" + textwrap.indent(textwrap.dedent(body), "    ") + "\ndemo()\n"
        (tmp_path / "dag.py").write_text(source)
        return tmp_path
    return write


def test_result_carries_the_return_value_with_args_kwargs_and_context(bundle):
    path = bundle("""
        @task
        def work(a, b, *, scale, ds, params):
            print("computing")
            return {"sum": (a + b) * scale, "ds": ds, "p": params["p"], "when": datetime.date(2024, 1, 1)}
        work(1, 2, scale=10)
    """)
    code, reply, stdout, _ = run_task(path, args=[1, 2], kwargs={"scale": 10})
    assert code == 0
    assert reply["type"] == "result"
    assert reply["value"] == {"sum": 30, "ds": "2024-01-02", "p": "v", "when": "2024-01-01"}
    # what the REST API's rendered_fields shows for a @task
    assert reply["rendered_fields"] == {"templates_dict": None, "op_args": [1, 2], "op_kwargs": {"scale": 10}}
    assert stdout == "computing\n"


def test_get_current_context_and_wildcard_kwargs(bundle):
    path = bundle("""
        @task
        def work(**context):
            current = get_current_context()
            return [context["ti"].try_number, current["dag_run"].conf, sorted(k for k in context if k.startswith("ts"))]
        work()
    """)
    code, reply, _, _ = run_task(path)
    assert code == 0
    assert reply["value"] == [1, {"c": 1}, ["ts", "ts_nodash", "ts_nodash_with_tz"]]


@pytest.mark.parametrize(
    "body, kind, exc_type, message",
    [
        ("raise ValueError('boom')", "user_error", "ValueError", "boom"),
        ("raise AirflowSkipException('nothing new')", "skip", "AirflowSkipException", "nothing new"),
        ("raise AirflowFailException('bad input')", "fail_no_retry", "AirflowFailException", "bad input"),
        ("sys.exit(4)", "user_error", "SystemExit", "Task failed due to SystemExit(4)"),
        ("return object()", "user_error", "TypeError", "return value of type object is not JSON-serializable"),
    ],
)
def test_errors_become_typed_error_frames(bundle, body, kind, exc_type, message):
    path = bundle(f"""
        @task
        def work():
            {body}
        work()
    """)
    code, reply, _, stderr = run_task(path)
    assert code == 1
    assert (reply["type"], reply["kind"], reply["exc_type"], reply["message"]) == ("error", kind, exc_type, message)
    if kind == "user_error" and exc_type != "TypeError":
        assert "Traceback (most recent call last)" in stderr and "line" in reply["traceback"]


def test_sys_exit_zero_is_success_without_value(bundle):
    path = bundle("""
        @task
        def work():
            sys.exit(0)
        work()
    """)
    code, reply, _, _ = run_task(path)
    assert (code, reply["type"], reply["value"]) == (0, "result", None)


def test_multiple_outputs_needs_a_dict(bundle):
    path = bundle("""
        @task(multiple_outputs=True)
        def work():
            return [1, 2]
        work()
    """)
    code, reply, _, _ = run_task(path, multiple_outputs=True)
    assert code == 1 and "expected dictionary for multiple_outputs" in reply["message"]


def test_hard_exit_leaves_no_reply(bundle):
    path = bundle("""
        @task
        def work():
            print("about to vanish", flush=True)
            os._exit(7)
        work()
    """)
    code, reply, stdout, _ = run_task(path)
    assert (code, reply) == (7, None)
    assert "about to vanish" in stdout


def test_missing_task_is_a_clear_user_error(bundle):
    path = bundle("""
        @task
        def work():
            return 1
        work()
    """)
    code, reply, _, _ = run_task(path, task_id="nope")
    assert code == 1
    assert reply["kind"] == "user_error" and "has no task 'nope'" in reply["message"]


@pytest.mark.parametrize("raw", [b"", b"\x00\x00\x00\x05{oops", encode_frame({"type": "hello"})])
def test_broken_run_frame_ends_the_runner_without_running_anything(bundle, raw):
    path = bundle("""
        @task
        def work():
            return 1
        work()
    """)
    code, reply, _, stderr = run_runner(path, raw)
    assert (code, reply) == (3, None)
    assert "leoflow runner:" in stderr


def test_bundle_module_named_like_stdlib_cannot_hijack_the_runner(bundle):
    path = bundle("""
        @task
        def work():
            return "fine"
        work()
    """)
    (path / "json.py").write_text("raise ImportError('the bundle json.py was imported')\n")
    code, reply, _, _ = run_task(path)
    assert (code, reply["type"], reply["value"]) == (0, "result", "fine")


def test_call_kwargs_follows_airflow_keyword_rules():
    def named(x, ds, other=None):
        pass

    def wildcard(x, **context):
        pass

    context = {"ds": "2024-01-01", "ti": object()}
    assert call_kwargs(named, [], {"x": 1}, context) == {"x": 1, "ds": "2024-01-01"}
    assert call_kwargs(wildcard, [1], {}, context) == context
    with pytest.raises(ValueError, match="'ds' in args is a part of kwargs"):
        call_kwargs(lambda ds: None, ["positional"], {}, context)


def test_check_multiple_outputs_rules():
    check_multiple_outputs(None)
    check_multiple_outputs({"a": 1})
    with pytest.raises(TypeError, match="keys must be strings"):
        check_multiple_outputs({1: "a"})
