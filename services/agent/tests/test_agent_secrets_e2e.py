"""End to end: the real agent process fetches variables and connections from the
dispatcher double, the task's Python and bash code read them the way Airflow's
environment secrets backend provides them, and nothing secret reaches the log or
the reported error."""

from __future__ import annotations

import json

import grpc
from leoflow_agent.testing import ControlPlaneDoubles, build_execution, run_agent, write_dag
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.dispatcher.v1 import agent_pb2
from leoflow_proto.scheduler.v1 import metadata_pb2

PASSWORD = "s3cret-Passw0rd"

DAG = '''
from airflow.sdk import dag, task, Variable, Connection
from airflow.hooks.base import BaseHook
from airflow.operators.bash import BashOperator

@dag(schedule=None)
def demo():
    @task
    def reads():
        conn = BaseHook.get_connection("warehouse")
        print("region is", Variable.get("region"))
        print("settings", Variable.get("settings", deserialize_json=True))
        print("password is", conn.password, "host is", conn.host, "port", conn.port)
        print("extra", conn.extra_dejson)
        print("same through Connection.get:", Connection.get("warehouse").login)
        print("missing with default:", Variable.get("nope", default="fallback"))
        return {"host": conn.host}

    @task
    def leaks():
        raise ValueError("cannot connect with " + BaseHook.get_connection("warehouse").password)

    @task
    def without():
        print("no variables:", Variable.get("region", default="none"))

    reads()
    leaks()
    without()
    BashOperator(task_id="shell", bash_command="echo var=$AIRFLOW_VAR_REGION; echo conn=$AIRFLOW_CONN_WAREHOUSE")

demo()
'''


def secrets() -> agent_pb2.GetTaskSecretsResponse:
    return agent_pb2.GetTaskSecretsResponse(
        variables=[
            metadata_pb2.TaskVariable(key="region", value="eu-west-1"),
            metadata_pb2.TaskVariable(key="settings", value=json.dumps({"retries": 3})),
        ],
        connections=[
            metadata_pb2.TaskConnection(
                connection_id="warehouse", conn_type="postgres", host="db.internal", login="etl", port=5432,
                password=PASSWORD, extra=json.dumps({"sslmode": "require", "token": "tok-987654"}),
                secret_values=[PASSWORD, "tok-987654"],
            )
        ],
    )  # fmt: skip


async def test_a_task_reads_variables_and_connections_and_the_log_masks_secrets(tmp_path):
    write_dag(tmp_path, DAG)
    async with ControlPlaneDoubles(build_execution(task_id="reads"), task_secrets=secrets()) as cp:
        result = await run_agent(cp, tmp_path)
    assert result.returncode == 0, result.stderr
    assert cp.dispatcher.states() == ["running", "success"]
    # Register, the spec and the secrets are asked for together, in any order.
    assert sorted(cp.dispatcher.calls[:3]) == ["GetTaskSecrets", "GetTaskSpec", "Register"]
    stdout = cp.logs.lines("stdout")
    assert "region is eu-west-1" in stdout
    assert "settings {'retries': 3}" in stdout
    assert "password is *** host is db.internal port 5432" in stdout
    assert "extra {'sslmode': 'require', 'token': '***'}" in stdout
    assert "same through Connection.get: etl" in stdout
    assert "missing with default: fallback" in stdout
    assert PASSWORD not in cp.logs.text() and "tok-987654" not in cp.logs.text()
    # The agent itself never prints them either.
    assert PASSWORD not in result.stderr


async def test_a_secret_in_an_error_is_masked_in_the_report_and_the_log(tmp_path):
    write_dag(tmp_path, DAG)
    async with ControlPlaneDoubles(build_execution(task_id="leaks"), task_secrets=secrets()) as cp:
        result = await run_agent(cp, tmp_path)
    assert result.returncode == 0, result.stderr
    assert cp.dispatcher.states() == ["running", "failed"]
    assert cp.dispatcher.terminal.error_message == "ValueError: cannot connect with ***"
    assert PASSWORD not in cp.logs.text()


async def test_bash_tasks_see_the_same_environment_masked(tmp_path):
    write_dag(tmp_path, DAG)
    execution = build_execution(
        task_id="shell", kind=dag_pb2.OPERATOR_KIND_BASH,
        bash=dag_pb2.BashCommand(bash_command="echo var=$AIRFLOW_VAR_REGION; echo conn=$AIRFLOW_CONN_WAREHOUSE"),
    )  # fmt: skip
    async with ControlPlaneDoubles(execution, task_secrets=secrets()) as cp:
        result = await run_agent(cp, tmp_path)
    assert result.returncode == 0, result.stderr
    stdout = cp.logs.lines("stdout")
    assert "var=eu-west-1" in stdout
    (conn_line,) = [line for line in stdout if line.startswith("conn=")]
    assert json.loads(conn_line[5:])["password"] == "***"


async def test_a_dispatcher_without_the_rpc_means_no_secrets(tmp_path):
    write_dag(tmp_path, DAG)
    async with ControlPlaneDoubles(build_execution(task_id="without")) as cp:
        result = await run_agent(cp, tmp_path)
    assert result.returncode == 0, result.stderr
    assert cp.dispatcher.states() == ["running", "success"]
    assert "no variables: none" in cp.logs.lines("stdout")


async def test_secrets_that_cannot_be_fetched_fail_the_try_before_user_code(tmp_path):
    write_dag(tmp_path, DAG)
    error = (grpc.StatusCode.PERMISSION_DENIED, "not your tenant")
    async with ControlPlaneDoubles(build_execution(task_id="reads"), task_secrets_error=error) as cp:
        result = await run_agent(cp, tmp_path)
    assert result.returncode == 0, result.stderr
    # RUNNING went ahead with the secrets call; the failure follows it, as an
    # infrastructure failure (no try consumed), and no user code ran.
    assert cp.dispatcher.states() == ["running", "failed"]
    assert cp.logs.lines("stdout") == []
    terminal = cp.dispatcher.terminal
    assert terminal.failure_kind == states_pb2.FAILURE_KIND_INFRASTRUCTURE
    assert "could not fetch the task's variables and connections (PERMISSION_DENIED: not your tenant)" in terminal.error_message
