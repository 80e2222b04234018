"""How the local backend starts an agent (pure): command, directory, environment."""

from __future__ import annotations

from pathlib import Path

import pytest
from leoflow_dispatcher.backends import LaunchFailed, LaunchRequest
from leoflow_dispatcher.backends.local.plan import bundle_directory, plan_local_launch
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution

HOST_ENV = {
    "PATH": "/usr/local/bin:/usr/bin",
    "HOME": "/home/leo",
    "LANG": "en_US.UTF-8",
    "TZ": "Europe/Paris",
    "LEOFLOW_JWT_SECRET": "never-to-a-task",
    "LEOFLOW_AGENT_TOKEN_SECRET": "never-to-a-task",
    "LEOFLOW_DISPATCHER_WORK_DIR": "/var/lib/leoflow",
    "PYTHONPATH": "/opt/dispatcher",
    "AWS_SECRET_ACCESS_KEY": "never-to-a-task",
}


def request(
    *, environment_hash="abc123", bundle_uri="file:///srv/bundles/etl%20v2", env=None
) -> LaunchRequest:
    execution = TaskExecution(tenant_id="t")
    execution.environment.environment_hash = environment_hash
    execution.environment.bundle_uri = bundle_uri
    execution.task.env.update(env or {})
    return LaunchRequest(
        name="etl-extract-t1-0123456789ab",
        execution=execution,
        agent_token="tok",
        dispatcher_address="10.0.0.5:50052",
    )


def plan(**kwargs):
    return plan_local_launch(
        request(**kwargs),
        venv_root=Path("/venvs"),
        fallback_python="/usr/bin/python3",
        host_env=HOST_ENV,
    )


def test_agent_runs_from_the_dags_virtualenv_in_its_bundle():
    result = plan()
    assert result.argv == ("/venvs/abc123/bin/python", "-m", "leoflow_agent")
    assert result.cwd == Path("/srv/bundles/etl v2")
    assert result.venv == Path("/venvs/abc123")


def test_without_an_environment_hash_the_fallback_python_runs_it():
    result = plan(environment_hash="")
    assert result.argv[0] == "/usr/bin/python3" and result.venv is None
    assert "VIRTUAL_ENV" not in result.env and result.env["PATH"] == HOST_ENV["PATH"]


def test_environment_is_clean():
    env = plan(env={"SALES_REGION": "eu", "PATH": "/task/bin"}).env
    assert env == {
        "PATH": "/task/bin",
        "HOME": "/home/leo",
        "LANG": "en_US.UTF-8",
        "TZ": "Europe/Paris",
        "VIRTUAL_ENV": "/venvs/abc123",
        "SALES_REGION": "eu",
        "PYTHONUNBUFFERED": "1",
        "LEOFLOW_AGENT_DISPATCHER_ADDRESS": "10.0.0.5:50052",
        "LEOFLOW_AGENT_TOKEN": "tok",
        "LEOFLOW_AGENT_BUNDLE_DIR": "/srv/bundles/etl v2",
    }


def test_virtualenv_bin_comes_first_on_path():
    assert plan().env["PATH"] == "/venvs/abc123/bin:/usr/local/bin:/usr/bin"


def test_task_env_cannot_replace_the_agents_own_variables():
    env = plan(
        env={
            "LEOFLOW_AGENT_TOKEN": "forged",
            "LEOFLOW_AGENT_DISPATCHER_ADDRESS": "evil:1",
            "PYTHONUNBUFFERED": "0",
        }
    ).env
    assert env["LEOFLOW_AGENT_TOKEN"] == "tok"
    assert env["LEOFLOW_AGENT_DISPATCHER_ADDRESS"] == "10.0.0.5:50052"
    assert env["PYTHONUNBUFFERED"] == "1"


@pytest.mark.parametrize("name", ["1ABC", "A-B", "A B", ""])
def test_task_env_with_an_invalid_name_is_refused(name):
    with pytest.raises(LaunchFailed, match="invalid variable"):
        plan(env={name: "x"})


@pytest.mark.parametrize("environment_hash", ["..", ".", "../etc", "a/b", "/abs", "x" * 200, "-rf"])
def test_environment_hash_cannot_point_outside_the_venv_root(environment_hash):
    with pytest.raises(LaunchFailed, match="invalid environment_hash"):
        plan(environment_hash=environment_hash)


@pytest.mark.parametrize(
    "uri, message",
    [
        ("", "no bundle_uri"),
        ("image", "file:// bundles only"),
        ("s3://bucket/dags", "file:// bundles only"),
        ("file://otherhost/srv/dag", "on another host"),
        ("file:relative/dag", "not an absolute path"),
        ("file:///srv/../etc", "not an absolute path"),
    ],
)
def test_bundle_uri_must_be_a_local_absolute_directory(uri, message):
    with pytest.raises(LaunchFailed, match=message):
        bundle_directory(uri)


def test_bundle_uri_of_localhost_is_local():
    assert bundle_directory("file://localhost/srv/dag") == Path("/srv/dag")
