"""End to end: bash tasks run as `bash -c` children of the real agent process."""

from __future__ import annotations

from pathlib import Path

import pytest
from leoflow_agent.testing import (
    ControlPlaneDoubles,
    build_execution,
    eventually,
    run_agent,
    write_dag,
)
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1 import dag_pb2

BASH_DAG = """
from airflow.sdk import dag, task
from airflow.operators.bash import BashOperator

@dag(schedule=None)
def demo():
    BashOperator(task_id="shell", bash_command="echo placeholder")

    @task.bash
    def computed(n):
        return f"echo computed {n}; echo {{{{ ds }}}}"

    computed(7)

demo()
"""


def bash_execution(command: str, **bash_fields) -> object:
    return build_execution(task_id="shell", kind=dag_pb2.OPERATOR_KIND_BASH, bash=dag_pb2.BashCommand(bash_command=command, **bash_fields))


@pytest.fixture
def bundle(tmp_path):
    write_dag(tmp_path, BASH_DAG)
    return tmp_path


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return False
    return fields[0] != "Z"  # an unreaped zombie is dead too


async def test_last_stdout_line_is_the_xcom_and_stderr_is_its_own_stream(bundle):
    execution = bash_execution('echo first; echo "to stderr" >&2; echo "  last line  "')
    async with ControlPlaneDoubles(execution) as cp:
        result = await run_agent(cp, bundle)

    assert result.returncode == 0, result.stderr
    assert cp.dispatcher.states() == ["running", "success"]
    assert cp.xcom.pushed() == {"return_value": "  last line"}
    assert cp.logs.lines("stdout") == ["first", "  last line  "]
    assert cp.logs.lines("stderr") == ["to stderr"]
    assert cp.dispatcher.terminal.rendered_fields["bash_command"].startswith("echo first")


async def test_non_zero_exit_fails_with_the_exit_code(bundle):
    async with ControlPlaneDoubles(bash_execution("echo trying; exit 3")) as cp:
        result = await run_agent(cp, bundle)

    assert result.returncode == 0, result.stderr
    terminal = cp.dispatcher.terminal
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_FAILED
    assert terminal.exit_code == 3 and terminal.failure_kind == states_pb2.FAILURE_KIND_USER_ERROR
    assert terminal.error_message == "AirflowException: Bash command failed. The command returned a non-zero exit code 3."
    assert cp.xcom.pushes == []


@pytest.mark.parametrize("command, skip_codes, state", [
    ("exit 99", [], states_pb2.TASK_INSTANCE_STATE_SKIPPED),
    ("exit 42", [42], states_pb2.TASK_INSTANCE_STATE_SKIPPED),
    ("exit 99", [42], states_pb2.TASK_INSTANCE_STATE_FAILED),
])
async def test_skip_on_exit_code(bundle, command, skip_codes, state):
    async with ControlPlaneDoubles(bash_execution(command, skip_on_exit_code=skip_codes)) as cp:
        result = await run_agent(cp, bundle)

    assert result.returncode == 0, result.stderr
    assert cp.dispatcher.terminal.state == state


async def test_templates_env_and_default_temporary_cwd(bundle):
    execution = bash_execution(
        'echo "$GREETING {{ params.who }} $AIRFLOW_CTX_TASK_ID $(basename "$PWD" | cut -c1-10)"',
        env={"GREETING": "hello on {{ ds }}"},
        append_env=True,
    )
    execution.run.params.update({"who": "ops"})
    async with ControlPlaneDoubles(execution) as cp:
        result = await run_agent(cp, bundle)

    assert result.returncode == 0, result.stderr
    assert cp.xcom.pushed()["return_value"] == "hello on 2024-01-02 ops shell airflowtmp"


async def test_env_without_append_env_replaces_the_environment(bundle):
    execution = bash_execution('echo "${ONLY:-unset} ${AGENT_SIDE:-unset}"', env={"ONLY": "mine"})
    async with ControlPlaneDoubles(execution) as cp:
        result = await run_agent(cp, bundle, AGENT_SIDE="from the agent's environment")

    assert result.returncode == 0, result.stderr
    assert cp.xcom.pushed()["return_value"] == "mine unset"


async def test_cwd_relative_to_bundle_and_missing_cwd(bundle):
    (bundle / "scripts").mkdir()
    async with ControlPlaneDoubles(bash_execution("pwd", cwd="scripts")) as cp:
        result = await run_agent(cp, bundle)
    assert result.returncode == 0, result.stderr
    assert cp.xcom.pushed()["return_value"] == str(bundle / "scripts")

    async with ControlPlaneDoubles(bash_execution("pwd", cwd="nowhere")) as cp:
        result = await run_agent(cp, bundle)
    assert result.returncode == 0, result.stderr
    assert cp.dispatcher.terminal.error_message == "AirflowException: Can not find the cwd: nowhere"


async def test_undefined_template_variable_fails_the_task(bundle):
    async with ControlPlaneDoubles(bash_execution("echo {{ no_such_thing }}")) as cp:
        result = await run_agent(cp, bundle)

    assert result.returncode == 0, result.stderr
    assert cp.dispatcher.terminal.error_message == "UndefinedError: 'no_such_thing' is undefined"


async def test_background_jobs_do_not_outlive_the_task(bundle, tmp_path):
    pid_file = tmp_path / "background.pid"
    async with ControlPlaneDoubles(bash_execution(f"sleep 300 & echo $! > {pid_file}; echo started")) as cp:
        result = await run_agent(cp, bundle)

    assert result.returncode == 0, result.stderr
    assert cp.dispatcher.terminal.state == states_pb2.TASK_INSTANCE_STATE_SUCCESS
    pid = int(pid_file.read_text())
    await eventually(lambda: not _alive(pid), message="the background sleep was killed with the task's group")


async def test_task_bash_runs_the_command_its_function_returns(bundle):
    execution = build_execution(
        task_id="computed", kind=dag_pb2.OPERATOR_KIND_BASH, python_qualname="demo.<locals>.computed",
        arguments=[dag_pb2.Argument(position=0, value=dag_pb2.Value(literal={"number_value": 7}))],
    )
    async with ControlPlaneDoubles(execution) as cp:
        result = await run_agent(cp, bundle)

    assert result.returncode == 0, result.stderr
    assert cp.logs.lines("stdout") == ["computed 7", "2024-01-02"]
    assert cp.xcom.pushed() == {"return_value": "2024-01-02"}
    assert cp.dispatcher.states() == ["running", "success"]
