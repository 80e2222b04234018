"""Integration: the dispatcher runs the REAL agent (`python -m leoflow_agent`,
services/agent) on a real DAG file. The xcom and logs services are small test
doubles served here the way the real ones are (start_grpc_server, agent tokens
verified with the same codec), so the tokens the dispatcher mints are checked by
every service the agent calls."""

from __future__ import annotations

import json
import sys
import textwrap

import pytest
from google.protobuf import descriptor_pool, json_format
from google.protobuf.struct_pb2 import Value as JsonValue
from leoflow_common.auth import TokenCodec
from leoflow_common.errors import PermissionDenied
from leoflow_common.grpc import (
    AGENT_ONLY,
    ServiceRegistration,
    current_principal,
    start_grpc_server,
)
from leoflow_common.states import TaskInstanceState
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.logs.v1 import logs_pb2, logs_pb2_grpc
from leoflow_proto.xcom.v1 import xcom_pb2, xcom_pb2_grpc

TI = TaskInstanceState

DAG_FILE = """
from airflow.sdk import dag, task


@dag(schedule=None)
def sales():
    @task
    def extract(rows):
        print(f"extracting {rows} rows")
        return {"rows": rows}

    @task
    def explode():
        raise ValueError("the input file is empty")

    @task
    def wait_forever():
        import time
        time.sleep(600)

    extract(3)
    explode()
    wait_forever()


sales()
"""


class XComTestDouble(xcom_pb2_grpc.XComServiceServicer):
    """XComService test double: literal arguments, pushes kept, agent scope enforced."""

    def __init__(self):
        self.pushed: dict[tuple[str, str], object] = {}

    async def ResolveArguments(self, request, context):
        current_principal()  # the interceptor already verified the agent token
        resolved = []
        for argument in request.arguments:
            if argument.value.WhichOneof("kind") != "literal":
                raise PermissionDenied("this double resolves literals only")
            value = plain_literal(argument.value.literal)
            resolved.append(
                xcom_pb2.ResolvedArgument(
                    name=argument.name,
                    position=argument.position,
                    value_json=json.dumps(value).encode(),
                )
            )
        return xcom_pb2.ResolveArgumentsResponse(arguments=resolved)

    async def PushXCom(self, request, context):
        scope = current_principal().task
        if request.key.task_id != scope.task_id or request.key.run_id != scope.run_id:
            raise PermissionDenied("an agent pushes XComs of its own task only")
        self.pushed[(request.key.task_id, request.xcom_key)] = json.loads(request.value_json)
        return xcom_pb2.PushXComResponse(
            entry=xcom_pb2.XComEntry(
                key=request.key, xcom_key=request.xcom_key, size_bytes=len(request.value_json)
            )
        )


def plain_literal(value: JsonValue) -> object:
    """A JSON literal as the scheduler wrote it (protobuf keeps numbers as floats)."""
    plain = json_format.MessageToDict(value)
    return int(plain) if isinstance(plain, float) and plain.is_integer() else plain


class LogsTestDouble(logs_pb2_grpc.LogServiceServicer):
    """LogService test double: keeps every line an agent appends."""

    def __init__(self):
        self.lines: list[tuple[str, str]] = []

    async def AppendLogs(self, request_iterator, context):
        accepted = 0
        async for request in request_iterator:
            for record in request.records:
                self.lines.append((request.key.task_instance.task_id, record.event))
                accepted += 1
        return logs_pb2.AppendLogsResponse(accepted=accepted)


@pytest.fixture
async def data_services(harness):
    """xcom and logs test doubles behind the real auth plumbing; yields (xcom, logs, addresses)."""
    xcom, logs = XComTestDouble(), LogsTestDouble()
    codec = TokenCodec(harness.jwt_secret, harness.agent_secret)
    servers = []
    for servicer, add, name in (
        (xcom, xcom_pb2_grpc.add_XComServiceServicer_to_server, "leoflow.xcom.v1.XComService"),
        (logs, logs_pb2_grpc.add_LogServiceServicer_to_server, "leoflow.logs.v1.LogService"),
    ):
        methods = [m.name for m in descriptor_pool.Default().FindServiceByName(name).methods]
        registration = ServiceRegistration(add, servicer, name, {m: AGENT_ONLY for m in methods})
        servers.append(await start_grpc_server([registration], bind="127.0.0.1:0", codec=codec))
    yield xcom, logs, tuple(f"127.0.0.1:{s.port}" for s in servers)
    for server in servers:
        await server.stop(grace=0)


async def start_with_real_agent(harness, data_services, **settings):
    _, _, (xcom_address, logs_address) = data_services
    (harness.paths.bundle / "dag.py").write_text(textwrap.dedent(DAG_FILE))
    # No environment_hash: the fallback python (this test run's, where leoflow_agent
    # is installed) runs the real agent.
    return await harness.start(
        xcom_address=xcom_address,
        logs_address=logs_address,
        fallback_python=sys.executable,
        **settings,
    )


def python_task(harness, task_id: str, *arguments: dag_pb2.Argument):
    execution = harness.execution(task_id, environment_hash="")
    execution.task.Clear()
    execution.task.task_id = task_id
    execution.task.kind = dag_pb2.OPERATOR_KIND_PYTHON
    execution.task.python.module = "dag"
    execution.task.python.qualname = task_id
    execution.task.do_xcom_push = True
    execution.task.arguments.extend(arguments)
    execution.key.dag_id = execution.run.dag_id = "sales"
    execution.run.run_id = execution.key.run_id
    return execution


async def test_real_agent_runs_a_python_task_to_success(harness, data_services):
    xcom, logs, _ = data_services
    await start_with_real_agent(harness, data_services)
    rows = dag_pb2.Argument(position=0, value=dag_pb2.Value(literal=JsonValue(number_value=3)))
    name = await harness.dispatch(python_task(harness, "extract", rows))

    success = await harness.wait_event(name, TI.SUCCESS, within=60)

    assert [e.state for e in harness.events_of(name)] == [
        TI.RUNNING.to_proto(),
        TI.SUCCESS.to_proto(),
    ]
    assert success.pid > 0 and success.hostname
    assert xcom.pushed[("extract", "return_value")] == {"rows": 3}

    async def logged():
        return ("extract", "extracting 3 rows") in logs.lines

    await assert_eventually(logged)


async def test_real_agent_failure_in_user_code_is_a_user_error(harness, data_services):
    await start_with_real_agent(harness, data_services)
    name = await harness.dispatch(python_task(harness, "explode"))

    failed = await harness.wait_event(name, TI.FAILED, within=60)

    assert failed.failure_kind == states_pb2.FAILURE_KIND_USER_ERROR
    assert "the input file is empty" in failed.error_message
    assert harness.events_of(name, TI.RUNNING)


async def test_real_agent_is_stopped_when_its_try_is_cancelled(harness, data_services):
    app = await start_with_real_agent(harness, data_services)
    execution = python_task(harness, "wait_forever")
    name = await harness.dispatch(execution)
    await harness.wait_event(name, TI.RUNNING, within=60)

    await harness.cancel(execution)

    async def stopped():
        return not app.supervisor.get(name).alive

    await assert_eventually(stopped, timeout=30)
    assert [e.state for e in harness.events_of(name)] == [TI.RUNNING.to_proto()]


async def test_real_agent_enforces_execution_timeout_within_the_dispatchers_grace(
    harness, data_services
):
    # The agent stops the task itself and says why; the dispatcher's own kill is
    # only the backstop after the grace.
    await start_with_real_agent(harness, data_services, execution_timeout_grace=60.0)
    execution = python_task(harness, "wait_forever")
    execution.task.execution_timeout.FromNanoseconds(500_000_000)
    name = await harness.dispatch(execution)

    failed = await harness.wait_event(name, TI.FAILED, within=60)

    assert failed.failure_kind == states_pb2.FAILURE_KIND_TIMEOUT
    assert "AirflowTaskTimeout" in failed.error_message
