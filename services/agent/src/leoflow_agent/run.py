"""Connect and run one assignment: the agent's lifecycle (DESIGN §4 step 5).

    Register (retrying until the dispatcher answers or connect_timeout passes),
    GetTaskSpec and GetTaskSecrets, all three at once (a warm assignment carries
    the spec and Register's answer: only GetTaskSecrets goes) -> connect to xcom
    and logs; RUNNING is reported and ResolveArguments asked while the secrets are
    on their way (as Airflow's task runner reports RUNNING before it parses the
    DAG file)
    -> start the log stream and heartbeats
    -> run the task by operator kind (python_task / bash_task): user code starts
       only once RUNNING was acknowledged; templates render in the runner
    -> on success push the XCom(s); a rejected push fails the task with the reason;
       with report_output_length, the output's length (a downstream maps over it)
    -> the task callback the outcome calls for (task_callbacks.py)
    -> ReportState(terminal, with rendered fields, rendered map index and mapped
       lengths) while the log is closed (final=True); the agent exits after both.
A DAG-callback execution (TaskExecution.dag_callback) runs that callback instead.

Exit codes (what the dispatcher sees when the agent process ends):
    0  a terminal state (success, failed or skipped) was reported
    1  no terminal state could be reported (dispatcher unreachable, token refused,
       report failed): the dispatcher records an infrastructure failure
    2  the agent was started without its configuration (__main__)
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Mapping

import grpc
from leoflow_proto.common.v1 import keys_pb2, states_pb2
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.dispatcher.v1 import agent_pb2

from . import spine_trace
from .assignment import AgentOptions, Assignment
from .bash_task import run_bash_task
from .context import context_document
from .control_plane import ControlPlane
from .log_shipper import LogShipper
from .outcome import FAILED, INFRASTRUCTURE, USER_ERROR, Outcome, failed
from .python_task import resolve_arguments, run_python_task
from .supervision import DEFAULT_HEARTBEAT_INTERVAL, StopRequest, heartbeat_loop, signal_termination
from .task_callbacks import run_dag_callback, run_task_callback
from .task_run import TaskRun
from .task_secrets import TaskSecretsUnavailable, fetch_task_secrets
from .xcom_push import push_outcome_xcoms, record_output_lengths

log = logging.getLogger("leoflow.agent")

EXIT_REPORTED = 0
EXIT_UNREPORTED = 1
EXIT_CONFIGURATION = 2

_PYTHON_KINDS = frozenset({dag_pb2.OPERATOR_KIND_PYTHON, dag_pb2.OPERATOR_KIND_BRANCH_PYTHON, dag_pb2.OPERATOR_KIND_SHORT_CIRCUIT})

# Long enough for a traceback's last line and context, short enough for a DB column.
_ERROR_MESSAGE_LIMIT = 4096


def _rpc_text(exc: grpc.aio.AioRpcError) -> str:
    return f"{exc.code().name}: {exc.details()}"


async def run_assignment(assignment: Assignment, options: AgentOptions, base_env: Mapping[str, str]) -> int:
    """Run the assignment's task-instance try to a reported end; the exit code.

    `base_env` is the environment user code starts from (the agent's own, read once
    by the caller); the agent's private LEOFLOW_AGENT_* settings are removed from it.
    """
    control_plane = ControlPlane(assignment.dispatcher_address, assignment.token, call_timeout=options.call_timeout)
    spine_trace.trace_calls(control_plane)
    try:
        return await _connect_and_run(control_plane, assignment, options, base_env)
    finally:
        await control_plane.close()


async def _connect_and_run(control_plane: ControlPlane, assignment: Assignment, options: AgentOptions, base_env: Mapping[str, str]) -> int:
    # The spec and the secrets are independent of Register (the token, not the
    # registration, is what the dispatcher answers them for): asked together, their
    # round trips hide behind Register's. Their budget covers Register's wait for
    # the dispatcher on top of their own.
    ahead = options.connect_timeout + options.call_timeout
    secrets_call = asyncio.ensure_future(fetch_task_secrets(control_plane, ahead))
    if assignment.execution is not None and assignment.registration is not None:
        execution, registration = assignment.execution, assignment.registration
        spine_trace.key = execution.key.task_id
    else:
        fetched = await _register_and_fetch_spec(control_plane, assignment, options, ahead, secrets_call)
        if fetched is None:
            return EXIT_UNREPORTED
        registration, execution = fetched
    if not (registration.xcom_address and registration.logs_address):
        _abandon(secrets_call)
        log.error("the dispatcher gave no xcom or logs address (xcom=%r, logs=%r)", registration.xcom_address, registration.logs_address)
        return await _report_without_log(control_plane, options, "AgentError: the dispatcher gave the agent no xcom or logs address")
    control_plane.open_data_channels(registration.xcom_address, registration.logs_address)
    # RUNNING goes now, while the secrets and arguments are on their way and the
    # runner loads the DAG file: user code still waits for its answer (TaskRun).
    running = asyncio.ensure_future(control_plane.report_state(running_request(options), budget=options.call_timeout))
    context = context_document(execution, hostname=options.hostname)
    # The arguments' round trip to the xcom service hides behind the secrets' (a
    # read: nothing runs on it; the runner gets them after RUNNING's answer).
    arguments = None if is_dag_callback(execution) else asyncio.ensure_future(resolve_arguments(execution, context, control_plane))
    try:
        return await _run_with_secrets(control_plane, assignment, options, base_env, registration, execution, context, secrets_call, arguments, running)
    finally:
        if arguments is not None and not arguments.done():
            arguments.cancel()
        elif arguments is not None and not arguments.cancelled():
            arguments.exception()  # retrieved: a failure no task asked for is not logged as lost
        if not running.done():
            running.cancel()
        elif not running.cancelled():
            running.exception()


async def _register_and_fetch_spec(
    control_plane: ControlPlane, assignment: Assignment, options: AgentOptions, ahead: float, secrets_call: asyncio.Future
) -> tuple[agent_pb2.RegisterResponse, object] | None:
    """Register and GetTaskSpec, together: (registration, execution), or None when
    either failed (logged; nothing can be reported without them)."""
    registering = asyncio.ensure_future(control_plane.register(hostname=options.hostname, pid=options.pid, budget=options.connect_timeout))
    spec_call = asyncio.ensure_future(control_plane.get_task_spec(budget=ahead))
    try:
        registration = await registering
    except grpc.aio.AioRpcError as exc:
        _abandon(spec_call, secrets_call)
        log.error("could not register with the dispatcher at %s: %s", assignment.dispatcher_address, _rpc_text(exc))
        return None
    try:
        execution = (await spec_call).execution
        spine_trace.key = execution.key.task_id
    except grpc.aio.AioRpcError as exc:
        _abandon(secrets_call)
        log.error("could not fetch the task spec: %s", _rpc_text(exc))
        return None
    return registration, execution


def running_request(options: AgentOptions) -> agent_pb2.ReportStateRequest:
    """The RUNNING report (user code is about to start)."""
    request = agent_pb2.ReportStateRequest(state=states_pb2.TASK_INSTANCE_STATE_RUNNING, hostname=options.hostname, pid=options.pid)
    request.occurred_at.GetCurrentTime()
    return request


def _abandon(*calls: asyncio.Future) -> None:
    """Cancel calls whose answer no longer matters; a failure they already had is
    not news (it is not logged as never retrieved)."""
    for call in calls:
        call.cancel()
        call.add_done_callback(lambda done: done.cancelled() or done.exception())


async def _run_with_secrets(
    control_plane: ControlPlane,
    assignment: Assignment,
    options: AgentOptions,
    base_env: Mapping[str, str],
    registration: agent_pb2.RegisterResponse,
    execution: object,
    context: dict,
    secrets_call: asyncio.Future,
    arguments: asyncio.Future | None,
    running: asyncio.Future,
) -> int:
    try:
        # Before anything runs: a task must not start without its variables and connections.
        task_secrets = await secrets_call
    except TaskSecretsUnavailable as exc:
        log.error("%s", exc)
        # The failure follows RUNNING (were it first, RUNNING would come after the end).
        await asyncio.gather(running, return_exceptions=True)
        return await _report_without_log(control_plane, options, f"AgentError: {exc}")
    try_key = keys_pb2.TaskInstanceTryKey(task_instance=execution.key, try_number=execution.try_number)
    shipper = LogShipper(control_plane.logs, try_key, control_plane.metadata)
    shipper.redact = task_secrets.masker.mask
    shipper.start()
    for name in task_secrets.skipped:
        shipper.emit("agent", "warning", f"{name} is not in the task's environment: its name or size does not fit one")
    run = TaskRun(
        execution=execution,
        bundle_dir=assignment.bundle_dir,
        options=options,
        control_plane=control_plane,
        shipper=shipper,
        stop=StopRequest(),
        context=context,
        # The secrets reach the child's environment only (TaskRun.system_env).
        base_env={**base_env, **task_secrets.env},
        arguments=arguments,
        running=running,
    )
    interval = float(registration.heartbeat_interval_seconds) or DEFAULT_HEARTBEAT_INTERVAL
    outcome = await _execute_with_watch(run, interval)
    spine_trace.mark("agent.task_ended")
    # A task that ended before it asked for RUNNING's answer (an unsupported kind,
    # arguments that did not resolve): its end must not overtake the RUNNING report.
    await asyncio.gather(running, return_exceptions=True)
    _log_final(run, outcome)
    # The report does not wait for the log to be closed (the next task waits for
    # the report, not for our log): both go at once, and the agent exits after both.
    closing = asyncio.ensure_future(shipper.close(options.logs_close_timeout))
    try:
        return await _report_terminal(run, outcome)
    finally:
        await closing
        spine_trace.mark("agent.logs_closed")


async def _report_without_log(control_plane: ControlPlane, options: AgentOptions, message: str) -> int:
    """Report an infrastructure failure found before any log or user code existed."""
    request = agent_pb2.ReportStateRequest(
        state=FAILED, error_message=message, failure_kind=INFRASTRUCTURE, hostname=options.hostname, pid=options.pid
    )
    request.occurred_at.GetCurrentTime()
    try:
        await control_plane.report_state(request, budget=options.report_timeout)
    except grpc.aio.AioRpcError as exc:
        log.error("could not report the failure: %s", _rpc_text(exc))
        return EXIT_UNREPORTED
    return EXIT_REPORTED


async def _execute_with_watch(run: TaskRun, heartbeat_interval: float) -> Outcome:
    """Execute the task with heartbeats running and SIGTERM/SIGINT turned into a stop."""
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(
            signum, lambda s=signum: run.stop.request(signal_termination(signal.Signals(s).name, user_code_started=run.user_code_started))
        )
    heartbeats = asyncio.create_task(heartbeat_loop(run.control_plane, heartbeat_interval, lambda: run.stop, run.agent_log))
    try:
        if is_dag_callback(run.execution):
            return await run_dag_callback(run)
        outcome = await execute(run)
        if outcome.succeeded:
            outcome = await push_outcome_xcoms(run, outcome)
        if outcome.succeeded and run.execution.report_output_length:
            outcome = record_output_lengths(run, outcome)
        await run_task_callback(run, outcome)
        return outcome
    except Exception as exc:  # an agent bug or a broken host must still end in a reported state
        log.exception("the agent failed while running the task")
        message = f"AgentError: {type(exc).__name__}: {exc}"
        run.agent_log("error", message)
        return failed(message, kind=USER_ERROR if run.user_code_started else INFRASTRUCTURE)
    finally:
        heartbeats.cancel()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def is_dag_callback(execution: object) -> bool:
    """The execution runs a DAG-level callback instead of a task."""
    return execution.HasField("dag_callback") and bool(execution.dag_callback.kind)  # type: ignore[attr-defined]


async def execute(run: TaskRun) -> Outcome:
    """The task's outcome by operator kind."""
    spec = run.spec
    ctx = run.context
    run.agent_log("info", f"Running {ctx['dag_id']}.{ctx['task_id']} (run {ctx['run_id']}) try {ctx['try_number']} of {ctx['max_tries']} on {run.options.hostname}")
    if spec.kind in _PYTHON_KINDS:
        return await run_python_task(run)
    if spec.kind == dag_pb2.OPERATOR_KIND_BASH:
        return await run_bash_task(run)
    kind_name = dag_pb2.OperatorKind.Name(spec.kind) if spec.kind in dag_pb2.OperatorKind.values() else str(spec.kind)
    return failed(f"UnsupportedOperator: unsupported operator kind {kind_name} ({spec.operator_name or 'unknown operator'}) for task {ctx['task_id']!r}")


def _log_final(run: TaskRun, outcome: Outcome) -> None:
    if outcome.succeeded:
        run.agent_log("info", "Task succeeded")
    elif outcome.state == FAILED:
        run.agent_log("error", f"Task failed: {outcome.error_message}")
    else:
        run.agent_log("info", f"Task skipped: {outcome.error_message}" if outcome.error_message else "Task skipped")


def terminal_request(run: TaskRun, outcome: Outcome) -> agent_pb2.ReportStateRequest:
    """The ReportState message for `outcome`."""
    message = run.shipper.redact(outcome.error_message)
    if len(message) > _ERROR_MESSAGE_LIMIT:
        message = message[: _ERROR_MESSAGE_LIMIT - 15] + " ...(truncated)"
    request = agent_pb2.ReportStateRequest(
        state=outcome.state,
        exit_code=outcome.exit_code,
        error_message=message,
        failure_kind=outcome.failure_kind,
        hostname=run.options.hostname,
        pid=run.options.pid,
        follow_task_ids=list(outcome.follow_task_ids),
        branch_decided=outcome.branch_decided,
        skip_downstream=outcome.skip_downstream,
        rendered_map_index=run.rendered_map_index,
        mapped_lengths=run.mapped_lengths,
    )
    request.occurred_at.GetCurrentTime()
    if run.rendered_fields:
        request.rendered_fields.update(task_secrets_masked(run, run.rendered_fields))
    return request


async def _report_terminal(run: TaskRun, outcome: Outcome) -> int:
    try:
        response = await run.control_plane.report_state(terminal_request(run, outcome), budget=run.options.report_timeout)
    except grpc.aio.AioRpcError as exc:
        log.error("could not report the terminal state: %s", _rpc_text(exc))
        return EXIT_UNREPORTED
    if not response.acknowledged:
        log.warning("the dispatcher did not acknowledge the terminal state (stale try?)")
    return EXIT_REPORTED


def task_secrets_masked(run: TaskRun, value: dict) -> dict:
    """Rendered fields as the UI may show them: secret values masked (Airflow
    redacts rendered templates the same way)."""
    mask = run.shipper.redact
    def walk(item):
        if isinstance(item, str):
            return mask(item)
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item
    return walk(value)
