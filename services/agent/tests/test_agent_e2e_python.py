"""End to end: the real agent process runs real DAG files against test doubles of
the dispatcher, xcom and logs services (leoflow_agent.testing)."""

from __future__ import annotations

import pytest
from leoflow_agent.testing import (
    ControlPlaneDoubles,
    build_execution,
    eventually,
    literal,
    run_agent,
    write_dag,
    xcom_ref,
)
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1 import dag_pb2

HEADER = """
from airflow.sdk import dag, task
from airflow.exceptions import AirflowSkipException, AirflowFailException
import datetime, os, pathlib, time

@dag(schedule=None)
def demo():
"""


def dag_with(body: str) -> str:
    import textwrap

    return textwrap.dedent(HEADER) + textwrap.indent(textwrap.dedent(body), "    ") + "\ndemo()\n"


async def test_success_pushes_return_value_and_reports_in_order(tmp_path):
    write_dag(tmp_path, dag_with("""
        @task
        def work(n, label="x"):
            print(f"working on {n}")
            return {"double": n * 2, "label": label, "day": datetime.date(2024, 1, 2), "pair": (1, 2)}
        work(21, label="answer")
    """))
    execution = build_execution(task_id="work", arguments=[literal(position=0, value=21), literal("label", value="answer")])
    async with ControlPlaneDoubles(execution) as cp:
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    # Register, GetTaskSpec and GetTaskSecrets go out together, in any order.
    assert sorted(cp.dispatcher.calls[:3]) == ["GetTaskSecrets", "GetTaskSpec", "Register"]
    assert cp.dispatcher.states() == ["running", "success"]
    assert cp.xcom.pushed() == {"return_value": {"double": 42, "label": "answer", "day": "2024-01-02", "pair": [1, 2]}}
    registration = cp.dispatcher.registrations[0]
    assert registration.protocol_version == 1 and registration.pid > 0 and registration.hostname
    assert "python" in registration.capabilities
    assert cp.rejected_calls == []  # every call carried the bearer token
    # the log: agent-assigned sequence numbers 1..n, timestamps, streams and levels, closed with final
    records = cp.logs.ordered()
    assert [r.sequence for r in records] == list(range(1, len(records) + 1))
    assert all(r.timestamp.seconds > 0 for r in records)
    assert records[0].stream == "agent" and records[0].event.startswith("Running demo.work")
    assert ("stdout", "info", "working on 21") in [(r.stream, r.level, r.event) for r in records]
    assert "Task exited with return code 0" in cp.logs.lines("agent")
    assert cp.logs.final_received
    assert cp.logs.keys[0].try_number == 1 and cp.logs.keys[0].task_instance.task_id == "work"


async def test_fan_in_list_and_positional_xcom_arrive_in_declaration_order(tmp_path):
    write_dag(tmp_path, dag_with("""
        @task
        def part(i):
            return i

        @task
        def merge(first, parts, scale=1):
            return {"first": first, "parts": parts, "scale": scale}

        merge(part(0), [part(1), part(2), part(3)], scale=3)
    """))
    parts = dag_pb2.Value(list=dag_pb2.ValueList(items=[xcom_ref("part__2"), xcom_ref("part__1"), xcom_ref("part__3")]))
    arguments = [
        dag_pb2.Argument(position=0, value=xcom_ref("part")),
        dag_pb2.Argument(name="parts", value=parts),
        literal("scale", value=3),
    ]
    execution = build_execution(task_id="merge", arguments=arguments)
    async with ControlPlaneDoubles(execution) as cp:
        cp.xcom.upstream.update({("part", "return_value"): "p0", ("part__1", "return_value"): {"v": 1}, ("part__2", "return_value"): [2]})
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    # declaration order, null for the upstream without a value
    assert cp.xcom.pushed()["return_value"] == {"first": "p0", "parts": [[2], {"v": 1}, None], "scale": 3}
    assert "ResolveArguments" in cp.xcom.calls


async def test_print_reaches_the_logs_service_while_the_task_runs(tmp_path):
    gate = tmp_path / "gate"
    write_dag(tmp_path, dag_with(f"""
        @task
        def work():
            print("waiting for the gate")
            while not pathlib.Path({str(gate)!r}).exists():
                time.sleep(0.01)
            print("through the gate")
            return "done"
        work()
    """))
    async with ControlPlaneDoubles(build_execution(task_id="work")) as cp:

        async def open_gate_after_first_line(process):
            await eventually(lambda: "waiting for the gate" in cp.logs.lines("stdout"), message="first print() line in the logs")
            assert process.returncode is None and cp.dispatcher.terminal is None  # still running
            gate.touch()

        result = await run_agent(cp, tmp_path, during=open_gate_after_first_line)

    assert result.returncode == 0, result.stderr
    assert cp.logs.lines("stdout") == ["waiting for the gate", "through the gate"]
    assert cp.dispatcher.states() == ["running", "success"]


async def test_exception_fails_the_task_with_error_and_traceback_in_logs(tmp_path):
    write_dag(tmp_path, dag_with("""
        @task
        def work():
            raise ValueError("the input was empty")
        work()
    """))
    async with ControlPlaneDoubles(build_execution(task_id="work")) as cp:
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr  # a FAILED state was reported
    terminal = cp.dispatcher.terminal
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_FAILED
    assert terminal.error_message == "ValueError: the input was empty"
    assert terminal.failure_kind == states_pb2.FAILURE_KIND_USER_ERROR
    assert terminal.exit_code == 1
    stderr = "\n".join(cp.logs.lines("stderr"))
    assert "Traceback (most recent call last)" in stderr and 'raise ValueError("the input was empty")' in stderr
    assert {r.level for r in cp.logs.ordered() if r.stream == "stderr"} == {"error"}
    assert "Task failed: ValueError: the input was empty" in cp.logs.lines("agent")
    assert cp.xcom.pushes == []


@pytest.mark.parametrize(
    "raise_line, state, kind",
    [
        ("raise AirflowSkipException('no new files')", states_pb2.TASK_INSTANCE_STATE_SKIPPED, states_pb2.FAILURE_KIND_UNSPECIFIED),
        ("raise AirflowFailException('bad config')", states_pb2.TASK_INSTANCE_STATE_FAILED, states_pb2.FAILURE_KIND_FAIL_NO_RETRY),
    ],
)
async def test_airflow_skip_and_fail_exceptions(tmp_path, raise_line, state, kind):
    write_dag(tmp_path, dag_with(f"""
        @task
        def work():
            {raise_line}
        work()
    """))
    async with ControlPlaneDoubles(build_execution(task_id="work")) as cp:
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    assert (cp.dispatcher.terminal.state, cp.dispatcher.terminal.failure_kind) == (state, kind)


async def test_oversized_return_value_fails_with_the_reason(tmp_path):
    write_dag(tmp_path, dag_with("""
        @task
        def work():
            return "x" * (300 * 1024)
        work()
    """))
    async with ControlPlaneDoubles(build_execution(task_id="work")) as cp:
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    terminal = cp.dispatcher.terminal
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_FAILED
    assert "XCom 'return_value'" in terminal.error_message and "INVALID_ARGUMENT" in terminal.error_message
    assert "the limit is 262144 bytes" in terminal.error_message
    assert any("was rejected by the XCom service" in line for line in cp.logs.lines("agent"))
    assert cp.xcom.pushes == []


async def test_not_json_serializable_return_value_fails(tmp_path):
    write_dag(tmp_path, dag_with("""
        @task
        def work():
            return {"handle": open(__file__)}
        work()
    """))
    async with ControlPlaneDoubles(build_execution(task_id="work")) as cp:
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    assert cp.dispatcher.terminal.error_message.startswith(
        "TypeError: return value of type dict is not JSON-serializable (it contains a value of type TextIOWrapper)"
    )


async def test_multiple_outputs_pushes_each_key(tmp_path):
    write_dag(tmp_path, dag_with("""
        @task(multiple_outputs=True)
        def work():
            return {"rows": 3, "path": "/tmp/x"}
        work()
    """))
    async with ControlPlaneDoubles(build_execution(task_id="work", multiple_outputs=True)) as cp:
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    assert cp.xcom.pushed() == {"rows": 3, "path": "/tmp/x", "return_value": {"rows": 3, "path": "/tmp/x"}}


async def test_none_is_not_pushed_and_do_xcom_push_false_pushes_nothing(tmp_path):
    write_dag(tmp_path, dag_with("""
        @task
        def nothing():
            return None

        @task(do_xcom_push=False)
        def quiet():
            return 5

        nothing()
        quiet()
    """))
    for task_id, push in (("nothing", True), ("quiet", False)):
        async with ControlPlaneDoubles(build_execution(task_id=task_id, do_xcom_push=push)) as cp:
            result = await run_agent(cp, tmp_path)
        assert result.returncode == 0, result.stderr
        assert cp.dispatcher.states() == ["running", "success"] and cp.xcom.pushes == []


@pytest.mark.parametrize(
    "body, fragment, exit_code",
    [
        ("os._exit(5)", "the task's process exited with code 5 without reporting a result", 5),
        ("import signal; os.kill(os.getpid(), signal.SIGKILL)", "was killed by signal SIGKILL (9) without reporting a result", 137),
    ],
)
async def test_child_that_dies_without_a_result_fails_clearly(tmp_path, body, fragment, exit_code):
    write_dag(tmp_path, dag_with(f"""
        @task
        def work():
            {body}
        work()
    """))
    async with ControlPlaneDoubles(build_execution(task_id="work")) as cp:
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    terminal = cp.dispatcher.terminal
    assert terminal.state == states_pb2.TASK_INSTANCE_STATE_FAILED
    assert fragment in terminal.error_message and terminal.exit_code == exit_code


async def test_templated_literal_arguments_are_rendered(tmp_path):
    write_dag(tmp_path, dag_with("""
        @task
        def work(day, note):
            return [day, note]
        work("{{ ds }}", note="{{ params.who }} on {{ macros.ds_add(ds, 1) }}")
    """))
    execution = build_execution(
        task_id="work",
        arguments=[literal(position=0, value="{{ ds }}"), literal("note", value="{{ params.who }} on {{ macros.ds_add(ds, 1) }}")],
        params={"who": "ops"},
    )
    async with ControlPlaneDoubles(execution) as cp:
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    assert cp.xcom.pushed()["return_value"] == ["2024-01-02", "ops on 2024-01-03"]


async def test_branch_reports_the_tasks_to_follow(tmp_path):
    write_dag(tmp_path, dag_with("""
        @task.branch
        def choose():
            return ["left", "middle"]
        choose()
    """))
    execution = build_execution(task_id="choose", kind=dag_pb2.OPERATOR_KIND_BRANCH_PYTHON)
    async with ControlPlaneDoubles(execution) as cp:
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    terminal = cp.dispatcher.terminal
    assert terminal.branch_decided and list(terminal.follow_task_ids) == ["left", "middle"]


async def test_short_circuit_false_skips_downstream(tmp_path):
    write_dag(tmp_path, dag_with("""
        @task.short_circuit
        def gate():
            return False
        gate()
    """))
    execution = build_execution(task_id="gate", kind=dag_pb2.OPERATOR_KIND_SHORT_CIRCUIT)
    async with ControlPlaneDoubles(execution) as cp:
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    assert cp.dispatcher.terminal.state == states_pb2.TASK_INSTANCE_STATE_SUCCESS
    assert cp.dispatcher.terminal.skip_downstream


async def test_unsupported_operator_kind_fails_clearly(tmp_path):
    write_dag(tmp_path, dag_with("""
        @task
        def work():
            return 1
        work()
    """))
    execution = build_execution(task_id="work", kind=dag_pb2.OPERATOR_KIND_EMPTY)
    async with ControlPlaneDoubles(execution) as cp:
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "unsupported operator kind OPERATOR_KIND_EMPTY" in cp.dispatcher.terminal.error_message
    # RUNNING goes as soon as the spec is known (Airflow's task runner reports it
    # before it parses the DAG file); the failure follows it.
    assert cp.dispatcher.states() == ["running", "failed"]


async def test_user_code_does_not_see_the_agent_token(tmp_path):
    write_dag(tmp_path, dag_with("""
        @task
        def work():
            return sorted(k for k in os.environ if k.startswith(("LEOFLOW_AGENT_", "AIRFLOW_CTX_")))
        work()
    """))
    async with ControlPlaneDoubles(build_execution(task_id="work", env={"EXTRA": "1"})) as cp:
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    assert cp.xcom.pushed()["return_value"] == [
        "AIRFLOW_CTX_DAG_ID", "AIRFLOW_CTX_DAG_RUN_ID", "AIRFLOW_CTX_LOGICAL_DATE", "AIRFLOW_CTX_TASK_ID", "AIRFLOW_CTX_TRY_NUMBER",
    ]


async def test_argument_resolution_failure_fails_before_user_code(tmp_path):
    import grpc

    write_dag(tmp_path, dag_with("""
        @task
        def work(value):
            pathlib.Path("ran").touch()
            return value
        work(1)
    """))
    execution = build_execution(task_id="work", arguments=[dag_pb2.Argument(name="value", value=xcom_ref("upstream"))])
    async with ControlPlaneDoubles(execution) as cp:
        cp.xcom.resolve_error = (grpc.StatusCode.PERMISSION_DENIED, "task 'upstream' is not an upstream of 'work'")
        result = await run_agent(cp, tmp_path)

    assert result.returncode == 0, result.stderr
    assert cp.dispatcher.states() == ["running", "failed"]  # RUNNING goes ahead; no user code ran
    terminal = cp.dispatcher.terminal
    assert terminal.error_message == (
        "XComResolutionError: could not resolve the task's arguments "
        "(PERMISSION_DENIED: task 'upstream' is not an upstream of 'work')"
    )
    assert terminal.failure_kind == states_pb2.FAILURE_KIND_USER_ERROR
    assert not (tmp_path / "ran").exists()
