"""Test doubles of the control plane, for the agent's tests and benchmarks.

`ControlPlaneDoubles` serves three small in-memory gRPC services on loopback ports,
standing in for the dispatcher (AgentService), the xcom service and the logs
service. They record every call, check the bearer token on every call the way the
real services do (without a TokenCodec: the expected token is a plain string), and
can be told to misbehave (should_terminate, rejected values). They are doubles, not
implementations: nothing here is used by the agent at run time.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import textwrap
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format
from leoflow_proto.common.v1 import keys_pb2, states_pb2
from leoflow_proto.dag.v1 import dag_pb2, execution_pb2
from leoflow_proto.dispatcher.v1 import agent_pb2, agent_pb2_grpc
from leoflow_proto.logs.v1 import logs_pb2, logs_pb2_grpc
from leoflow_proto.xcom.v1 import xcom_pb2, xcom_pb2_grpc

XCOM_MAX_VALUE_BYTES = 256 * 1024


async def _check_token(context: grpc.aio.ServicerContext, token: str, rejected: list[str]) -> None:
    metadata = dict(context.invocation_metadata() or ())
    if metadata.get("authorization") != f"Bearer {token}":
        rejected.append(context.peer())
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, "missing or wrong bearer token")


@dataclass
class DispatcherDouble(agent_pb2_grpc.AgentServiceServicer):
    """AgentService double: hands out one TaskExecution and records the agent's calls."""

    execution: execution_pb2.TaskExecution
    token: str
    xcom_address: str = ""
    logs_address: str = ""
    heartbeat_interval_seconds: int = 1
    # should_terminate on the Nth heartbeat (1-based); 0: never.
    terminate_on_heartbeat: int = 0
    terminate_on_running: bool = False
    registrations: list[agent_pb2.RegisterRequest] = field(default_factory=list)
    heartbeats: list[agent_pb2.HeartbeatRequest] = field(default_factory=list)
    reports: list[agent_pb2.ReportStateRequest] = field(default_factory=list)
    # (monotonic time, report) pairs, for measuring start-up latency
    report_times: list[tuple[float, agent_pb2.ReportStateRequest]] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    # What GetTaskSecrets answers; None: UNIMPLEMENTED, as from a dispatcher that predates it.
    task_secrets: agent_pb2.GetTaskSecretsResponse | None = None
    # A status GetTaskSecrets fails with instead, if set.
    task_secrets_error: tuple[grpc.StatusCode, str] | None = None

    async def GetTaskSecrets(self, request, context):
        await _check_token(context, self.token, self.rejected)
        self.calls.append("GetTaskSecrets")
        if self.task_secrets_error is not None:
            await context.abort(*self.task_secrets_error)
        if self.task_secrets is None:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")
        return self.task_secrets

    async def Register(self, request, context):
        await _check_token(context, self.token, self.rejected)
        self.calls.append("Register")
        self.registrations.append(request)
        response = agent_pb2.RegisterResponse(
            execution_name="double-execution",
            heartbeat_interval_seconds=self.heartbeat_interval_seconds,
            xcom_address=self.xcom_address,
            logs_address=self.logs_address,
        )
        response.server_time.GetCurrentTime()
        return response

    async def GetTaskSpec(self, request, context):
        await _check_token(context, self.token, self.rejected)
        self.calls.append("GetTaskSpec")
        return agent_pb2.GetTaskSpecResponse(execution=self.execution)

    async def Heartbeat(self, request, context):
        await _check_token(context, self.token, self.rejected)
        self.calls.append("Heartbeat")
        self.heartbeats.append(request)
        terminate = bool(self.terminate_on_heartbeat) and len(self.heartbeats) >= self.terminate_on_heartbeat
        return agent_pb2.HeartbeatResponse(should_terminate=terminate)

    async def ReportState(self, request, context):
        await _check_token(context, self.token, self.rejected)
        self.calls.append(f"ReportState:{states_pb2.TaskInstanceState.Name(request.state)}")
        self.reports.append(request)
        self.report_times.append((time.monotonic(), request))
        running = request.state == states_pb2.TASK_INSTANCE_STATE_RUNNING
        return agent_pb2.ReportStateResponse(acknowledged=True, should_terminate=running and self.terminate_on_running)

    def states(self) -> list[str]:
        """Reported states as Airflow strings ("running", "success", ...)."""
        return [states_pb2.TaskInstanceState.Name(r.state).removeprefix("TASK_INSTANCE_STATE_").lower() for r in self.reports]

    @property
    def terminal(self) -> agent_pb2.ReportStateRequest | None:
        finals = [r for r in self.reports if r.state != states_pb2.TASK_INSTANCE_STATE_RUNNING]
        return finals[-1] if finals else None


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral(v) for v in value]
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    return value


def _literal(value: Any) -> Any:
    """A protobuf literal as the xcom service renders it (integral numbers as ints)."""
    return _integral(json_format.MessageToDict(value))


@dataclass
class XComDouble(xcom_pb2_grpc.XComServiceServicer):
    """XComService double: upstream values to resolve and pull from, pushes recorded
    (and readable back), 256 KiB cap. `upstream` holds unmapped values by (task_id,
    key); `mapped_upstream` a mapped task's values by (task_id, key), in map_index
    order; `forbidden` task ids answer PERMISSION_DENIED as a narrow token would."""

    token: str
    upstream: dict[tuple[str, str], Any] = field(default_factory=dict)
    mapped_upstream: dict[tuple[str, str], list[Any]] = field(default_factory=dict)
    forbidden: set[str] = field(default_factory=set)
    # (status, details) ResolveArguments fails with, if set
    resolve_error: tuple[grpc.StatusCode, str] | None = None
    pushes: list[xcom_pb2.PushXComRequest] = field(default_factory=list)
    resolve_requests: list[xcom_pb2.ResolveArgumentsRequest] = field(default_factory=list)
    calls: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)

    def _values(self, task_id: str, key: str) -> list[tuple[int, Any]]:
        """(map_index, value) pairs of a task's XCom, pushes included, by map_index."""
        found: dict[int, Any] = {}
        if (task_id, key) in self.upstream:
            found[-1] = self.upstream[(task_id, key)]
        for index, value in enumerate(self.mapped_upstream.get((task_id, key), [])):
            found[index] = value
        for push in self.pushes:
            if push.key.task_id == task_id and push.xcom_key == key:
                found[push.key.map_index] = json.loads(push.value_json)
        return sorted(found.items())

    def _resolve(self, value: dag_pb2.Value) -> Any:
        kind = value.WhichOneof("kind")
        if kind == "literal":
            return _literal(value.literal)
        if kind == "xcom":
            values = dict(self._values(value.xcom.task_id, value.xcom.key or "return_value"))
            if -1 in values:
                return values[-1]
            return [v for _, v in sorted(values.items())] or None
        if kind == "list":
            return [self._resolve(item) for item in value.list.items]
        if kind == "dict":
            return {key: self._resolve(item) for key, item in value.dict.items.items()}
        return None

    def _expand(self, mapping: dag_pb2.MappingSpec, map_index: int) -> dict[str, Any]:
        """The instance's mapped kwargs (the real rules live in leoflow_xcom.expansion)."""
        kwargs: dict[str, Any] = {}
        names = list(mapping.expand_keys) or sorted(mapping.expand)
        remainder = map_index
        for name in reversed(names):
            column = self._resolve(mapping.expand[name])
            column = [[k, v] for k, v in column.items()] if isinstance(column, dict) else column
            kwargs[name] = column[remainder % len(column)]
            remainder //= len(column)
        if mapping.HasField("expand_kwargs"):
            kwargs.update(self._resolve(mapping.expand_kwargs)[map_index])
        return kwargs

    async def ResolveArguments(self, request, context):
        await _check_token(context, self.token, self.rejected)
        self.calls.append("ResolveArguments")
        self.resolve_requests.append(request)
        if self.resolve_error is not None:
            await context.abort(*self.resolve_error)
        resolved = [
            xcom_pb2.ResolvedArgument(name=a.name, position=a.position, value_json=json.dumps(self._resolve(a.value)).encode())
            for a in request.arguments
        ]
        if request.HasField("mapping"):
            for name, value in self._expand(request.mapping, request.map_index).items():
                resolved.append(xcom_pb2.ResolvedArgument(name=name, value_json=json.dumps(value).encode()))
        return xcom_pb2.ResolveArgumentsResponse(arguments=resolved)

    async def GetXCom(self, request, context):
        await _check_token(context, self.token, self.rejected)
        self.calls.append("GetXCom")
        if request.key.task_id in self.forbidden:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"task {request.key.task_id!r} is not readable here")
        values = dict(self._values(request.key.task_id, request.xcom_key))
        if request.key.map_index not in values:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"XCom {request.xcom_key!r} of task {request.key.task_id!r} not found")
        entry = xcom_pb2.XComEntry(key=request.key, xcom_key=request.xcom_key, value_json=json.dumps(values[request.key.map_index]).encode())
        return xcom_pb2.GetXComResponse(entry=entry)

    async def ListXComs(self, request, context):
        await _check_token(context, self.token, self.rejected)
        self.calls.append("ListXComs")
        if request.task_id in self.forbidden:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, f"task {request.task_id!r} is not readable here")
        entries = [
            xcom_pb2.XComEntry(
                key=keys_pb2.TaskInstanceKey(dag_id=request.dag_id, run_id=request.run_id, task_id=request.task_id, map_index=index),
                xcom_key=request.xcom_key,
                value_json=json.dumps(value).encode(),
            )
            for index, value in self._values(request.task_id, request.xcom_key)
        ]
        start = request.page.offset
        page = entries[start : start + (request.page.limit or 100)]
        return xcom_pb2.ListXComsResponse(entries=page, total_entries=len(entries))

    async def PushXCom(self, request, context):
        await _check_token(context, self.token, self.rejected)
        self.calls.append("PushXCom")
        if len(request.value_json) > XCOM_MAX_VALUE_BYTES:
            await context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                f"XCom value is {len(request.value_json)} bytes; the limit is {XCOM_MAX_VALUE_BYTES} bytes (256 KiB)",
            )
        self.pushes.append(request)
        return xcom_pb2.PushXComResponse(entry=xcom_pb2.XComEntry(key=request.key, xcom_key=request.xcom_key, size_bytes=len(request.value_json)))

    def pushed(self) -> dict[str, Any]:
        """Pushed values by XCom key, decoded."""
        return {p.xcom_key: json.loads(p.value_json) for p in self.pushes}


@dataclass
class LogsDouble(logs_pb2_grpc.LogServiceServicer):
    """LogService double: stores records once per sequence number, notes final."""

    token: str
    records: dict[int, logs_pb2.LogRecord] = field(default_factory=dict)
    keys: list[keys_pb2.TaskInstanceTryKey] = field(default_factory=list)
    final_received: bool = False
    streams_opened: int = 0
    rejected: list[str] = field(default_factory=list)

    async def AppendLogs(self, request_iterator, context):
        await _check_token(context, self.token, self.rejected)
        self.streams_opened += 1
        accepted = 0
        async for request in request_iterator:
            self.keys.append(request.key)
            for record in request.records:
                if record.sequence not in self.records:
                    self.records[record.sequence] = record
                    accepted += 1
            if request.final:
                self.final_received = True
        last = max(self.records, default=0)
        return logs_pb2.AppendLogsResponse(accepted=accepted, last_sequence=last)

    def ordered(self) -> list[logs_pb2.LogRecord]:
        return [self.records[s] for s in sorted(self.records)]

    def lines(self, stream: str | None = None) -> list[str]:
        """Events in sequence order, optionally of one stream ("stdout", "stderr", "agent")."""
        return [r.event for r in self.ordered() if stream is None or r.stream == stream]

    def text(self) -> str:
        return "\n".join(self.lines())


async def _serve(servicer: Any, add: Callable[[Any, Any], None], port: int = 0) -> tuple[grpc.aio.Server, str]:
    server = grpc.aio.server()
    add(servicer, server)
    port = server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    return server, f"127.0.0.1:{port}"


class ControlPlaneDoubles:
    """The three doubles, served; use `async with ControlPlaneDoubles(execution) as cp`."""

    def __init__(
        self, execution: execution_pb2.TaskExecution, *, token: str = "test-agent-token", dispatcher_port: int = 0, **dispatcher_options: Any
    ):
        self.token = token
        self._dispatcher_port = dispatcher_port
        self.dispatcher = DispatcherDouble(execution=execution, token=token, **dispatcher_options)
        self.xcom = XComDouble(token=token)
        self.logs = LogsDouble(token=token)
        self.dispatcher_address = ""
        self._servers: list[grpc.aio.Server] = []

    async def __aenter__(self) -> ControlPlaneDoubles:
        xcom_server, self.dispatcher.xcom_address = await _serve(self.xcom, xcom_pb2_grpc.add_XComServiceServicer_to_server)
        logs_server, self.dispatcher.logs_address = await _serve(self.logs, logs_pb2_grpc.add_LogServiceServicer_to_server)
        dispatcher_server, self.dispatcher_address = await _serve(
            self.dispatcher, agent_pb2_grpc.add_AgentServiceServicer_to_server, self._dispatcher_port
        )
        self._servers = [dispatcher_server, xcom_server, logs_server]
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        for server in self._servers:
            await server.stop(grace=None)

    @property
    def rejected_calls(self) -> list[str]:
        return self.dispatcher.rejected + self.xcom.rejected + self.logs.rejected

    def agent_env(self, bundle_dir: str, **overrides: str) -> dict[str, str]:
        """The environment the dispatcher would give the agent process."""
        env = dict(os.environ)
        env.update(
            LEOFLOW_AGENT_DISPATCHER_ADDRESS=self.dispatcher_address,
            LEOFLOW_AGENT_TOKEN=self.token,
            LEOFLOW_AGENT_BUNDLE_DIR=bundle_dir,
        )
        env.update(overrides)
        return env


async def start_agent(env: Mapping[str, str], *, cwd: str | None = None) -> asyncio.subprocess.Process:
    """`python -m leoflow_agent` as the dispatcher starts it; its own output piped."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "leoflow_agent", env=dict(env), cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )


@dataclass(frozen=True)
class AgentResult:
    """How an agent process ended: exit code and its own diagnostics (stderr)."""

    returncode: int
    stderr: str


async def run_agent(
    doubles: ControlPlaneDoubles,
    bundle_dir: str | os.PathLike,
    *,
    during: Callable[[asyncio.subprocess.Process], Any] | None = None,
    within: float = 120.0,
    **env_overrides: str,
) -> AgentResult:
    """Run the agent against `doubles` to its end; `during(process)` (a coroutine
    function) runs while it does, e.g. to act on what the task logged."""
    process = await start_agent(doubles.agent_env(str(bundle_dir), **env_overrides))
    output = asyncio.ensure_future(process.communicate())
    try:
        if during is not None:
            await during(process)
        _, stderr = await asyncio.wait_for(output, within)
    except BaseException:
        if process.returncode is None:
            process.kill()
        raise
    return AgentResult(process.returncode, stderr.decode(errors="replace"))


def write_dag(bundle_dir: str | os.PathLike, source: str, name: str = "dag.py") -> None:
    """Write a DAG file (dedented) into the bundle directory."""
    Path(bundle_dir, name).write_text(textwrap.dedent(source).lstrip())


def build_execution(
    *,
    dag_id: str = "demo",
    task_id: str = "task",
    run_id: str = "manual__2024-01-02T03:04:05+00:00",
    kind: int = dag_pb2.OPERATOR_KIND_PYTHON,
    dag_file: str = "dag.py",
    arguments: Iterable[dag_pb2.Argument] = (),
    bash: dag_pb2.BashCommand | None = None,
    try_number: int = 1,
    max_tries: int = 1,
    do_xcom_push: bool = True,
    multiple_outputs: bool = False,
    execution_timeout_seconds: float | None = None,
    logical_date: str | None = "2024-01-02T03:04:05Z",
    params: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    python_qualname: str = "",
    map_index: int = -1,
    mapping: dag_pb2.MappingSpec | None = None,
    retries: int = 0,
    callbacks: dag_pb2.TaskCallbacks | None = None,
    conf: Mapping[str, Any] | None = None,
    map_index_template: str = "",
) -> execution_pb2.TaskExecution:
    """A TaskExecution as the scheduler would put it in a dispatch request."""
    task = dag_pb2.TaskSpec(
        task_id=task_id,
        kind=kind,
        arguments=list(arguments),
        do_xcom_push=do_xcom_push,
        multiple_outputs=multiple_outputs,
        env=dict(env or {}),
        retries=retries,
        map_index_template=map_index_template,
    )
    if mapping is not None:
        task.mapping.CopyFrom(mapping)
    if callbacks is not None:
        task.callbacks.CopyFrom(callbacks)
    if python_qualname:
        task.python.module = dag_file.removesuffix(".py")
        task.python.qualname = python_qualname
    if bash is not None:
        task.bash.CopyFrom(bash)
    if execution_timeout_seconds is not None:
        task.execution_timeout.FromNanoseconds(int(execution_timeout_seconds * 1e9))
    execution = execution_pb2.TaskExecution(
        tenant_id="tenant-1",
        key=keys_pb2.TaskInstanceKey(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index),
        try_number=try_number,
        max_tries=max_tries,
        task=task,
        dag_file=dag_file,
    )
    execution.run.dag_id = dag_id
    execution.run.run_id = run_id
    execution.run.run_type = states_pb2.DAG_RUN_TYPE_MANUAL
    if logical_date:
        execution.run.logical_date.FromJsonString(logical_date)
    if params:
        execution.run.params.update(params)
    if conf:
        execution.run.conf.update(conf)
    return execution


def literal(name: str = "", position: int = 0, value: Any = None) -> dag_pb2.Argument:
    """An Argument holding a JSON literal."""
    argument = dag_pb2.Argument(name=name, position=position)
    json_format.ParseDict(value, argument.value.literal)
    return argument


def xcom_ref(task_id: str, key: str = "return_value") -> dag_pb2.Value:
    return dag_pb2.Value(xcom=dag_pb2.XComRef(task_id=task_id, key=key))


async def eventually(predicate: Callable[[], Any], *, within: float = 20.0, message: str = "") -> Any:
    """Poll `predicate` until it returns something truthy; fail after `within` s."""
    deadline = time.monotonic() + within
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within}s: {message or predicate}")
        await asyncio.sleep(0.02)
