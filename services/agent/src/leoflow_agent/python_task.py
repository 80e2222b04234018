"""Python tasks (PythonOperator, @task, branch, short-circuit, custom operators) and
the runner that every kind uses for templates and callbacks.

Order, chosen for start latency without running user code early:
1. start `python -P -m leoflow_agent.runner` at once (or take the standby's forked
   one) and send it a "prepare" frame: it loads the DAG file while the agent
   resolves the arguments and reports RUNNING; the task's callable, templates and
   callbacks wait for the work frame;
2. resolve XCom references (ResolveArguments: fan-in lists in declaration order;
   for a mapped instance, its element of the expansion at its map_index); run.py
   asks for them ahead, together with the secrets;
3. report RUNNING, then send the work frame: user code starts, and the runner
   renders the template fields with the DAG's Jinja environment;
4. answer the runner's requests (ti.xcom_pull / xcom_push) and supervise it; the
   reply frame and exit status decide the outcome (outcome.py); the rendered
   fields and map index in the reply are kept for the report.

`call_runner` is steps 1-4 for any work frame ("run", "render"); bash tasks use it
to render their command.
"""

from __future__ import annotations

import signal
import sys
from typing import Any

import grpc
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.xcom.v1 import xcom_pb2

from .arguments import ArgumentError, assemble_call
from .child_process import ChildProcess
from .forked_runner import take_or_start
from .outcome import (
    INFRASTRUCTURE,
    Outcome,
    branch_outcome,
    exit_status,
    failed,
    python_outcome,
    short_circuit_outcome,
)
from .task_run import TaskRun
from .xcom_requests import XComRequests

RUNNER_ARGV = (sys.executable, "-P", "-m", "leoflow_agent.runner")

# Resolution failures that are the DAG's fault (missing upstream value, bad
# reference) consume a try; an unreachable xcom service does not.
_INFRASTRUCTURE_CODES = frozenset({grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED})


def is_mapped_instance(run: TaskRun) -> bool:
    """A mapped task's instance (map_index >= 0 and a mapping to expand)."""
    return _is_mapped(run.execution)


def _is_mapped(execution: Any) -> bool:
    spec, mapping = execution.task, execution.task.mapping
    return execution.key.map_index >= 0 and spec.HasField("mapping") and (
        bool(mapping.expand) or mapping.HasField("expand_kwargs")
    )


async def resolve_call(run: TaskRun) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """(args, kwargs, mapped kwargs) with the XCom references resolved: those run.py
    asked for ahead when it did, else asked for now."""
    ahead, run.arguments = run.arguments, None
    if ahead is not None:
        return await ahead
    return await resolve_arguments(run.execution, run.context, run.control_plane)


async def resolve_arguments(execution: Any, context: dict[str, Any], control_plane: Any) -> tuple[list[Any], dict[str, Any], dict[str, Any]]:
    """resolve_call for an execution whose TaskRun does not exist yet (run.py asks
    while the secrets are still on their way)."""
    spec = execution.task
    arguments = list(spec.arguments)
    mapped = _is_mapped(execution)
    if not arguments and not mapped:
        return [], {}, {}
    request = xcom_pb2.ResolveArgumentsRequest(dag_id=context["dag_id"], run_id=context["run_id"], arguments=arguments)
    if mapped:
        request.map_index = execution.key.map_index
        request.mapping.CopyFrom(spec.mapping)
    response = await control_plane.resolve_arguments(request)
    own = {a.name for a in arguments if a.name}
    args, kwargs = assemble_call(response.arguments)
    mapped_kwargs = {name: kwargs.pop(name) for name in list(kwargs) if name not in own}
    return args, kwargs, mapped_kwargs


def value_mask(value: Any) -> Any:
    """Which parts of a compiled argument (dag_pb2.Value) are the author's literals:
    true for a literal, false for an XCom reference, a list/dict of masks for a
    list/dict holding both. The runner renders templates only where it says true."""
    kind = value.WhichOneof("kind")
    if kind == "literal":
        return True
    if kind == "list":
        return [value_mask(item) for item in value.list.items]
    if kind == "dict":
        return {key: value_mask(item) for key, item in value.dict.items.items()}
    return False


def argument_masks(spec: Any, mapped_names: Any) -> dict[str, Any]:
    """Masks of the call's positional, keyword and mapped arguments."""
    positional = sorted((a for a in spec.arguments if not a.name), key=lambda a: a.position)
    mapping = spec.mapping
    kwargs_literal = mapping.HasField("expand_kwargs") and mapping.expand_kwargs.WhichOneof("kind") == "literal"
    return {
        "args": [value_mask(a.value) for a in positional],
        "kwargs": {a.name: value_mask(a.value) for a in spec.arguments if a.name},
        "mapped": {
            name: mapping.expand[name].WhichOneof("kind") == "literal" if name in mapping.expand else kwargs_literal
            for name in mapped_names
        },
    }


def work_frame(run: TaskRun, frame_type: str, **fields: Any) -> dict[str, Any]:
    """A frame the runner works on (runner.py): which DAG file and task, and the context."""
    return {
        "type": frame_type,
        **_work_identity(run),
        **fields,
    }


def prepare_frame(run: TaskRun, frame_type: str) -> dict[str, Any]:
    """The frame that has the runner load the DAG file for `frame_type` work ahead
    (runner.py): no arguments, and no user callable runs on it."""
    return {"type": "prepare", "work": frame_type, **_work_identity(run)}


def _work_identity(run: TaskRun) -> dict[str, Any]:
    return {
        "bundle_dir": str(run.bundle_dir),
        "dag_file": run.execution.dag_file,
        "dag_id": run.context["dag_id"],
        "task_id": run.context["task_id"],
        "context": run.context,
    }


async def start_runner(run: TaskRun) -> ChildProcess:
    """Start a runner child whose XCom requests the agent serves with the try's token."""
    env = {**run.system_env(), **run.airflow_ctx_env()}
    env["PYTHONUNBUFFERED"] = "1"  # print() reaches the log as it happens
    handler = XComRequests(run.control_plane, run.execution.key, run.agent_log)
    # A standby agent's runner is already forked and warm (forked_runner.py); else one starts.
    return await take_or_start(RUNNER_ARGV, cwd=str(run.bundle_dir), env=env, on_line=run.on_line, control=True, handler=handler)


def _resolution_failure(exc: Exception) -> Outcome:
    if isinstance(exc, grpc.aio.AioRpcError):
        kind = INFRASTRUCTURE if exc.code() in _INFRASTRUCTURE_CODES else None
        message = f"XComResolutionError: could not resolve the task's arguments ({exc.code().name}: {exc.details()})"
        return failed(message, kind=kind) if kind else failed(message)
    return failed(f"{type(exc).__name__}: {exc}")


async def call_runner(run: TaskRun, frame_type: str, **fields: Any) -> Outcome:
    """Report RUNNING and have a runner do `frame_type` work on the resolved arguments."""
    child = await start_runner(run)
    # The DAG file loads while the arguments and RUNNING are awaited; the work frame,
    # the only one that runs the task's code, still goes after RUNNING's answer.
    await child.send(prepare_frame(run, frame_type))
    try:
        args, kwargs, mapped = await resolve_call(run)
    except (grpc.aio.AioRpcError, ArgumentError) as exc:
        await discard(child)
        return _resolution_failure(exc)
    refusal = await run.report_running()
    if refusal is not None:
        await discard(child)
        return failed(refusal.message, kind=refusal.failure_kind)
    masks = argument_masks(run.spec, mapped)
    await child.send(work_frame(run, frame_type, args=args, kwargs=kwargs, mapped=mapped, masks=masks, **fields))
    child_exit, termination = await run.supervise(child)
    run.log_exit(child_exit.returncode)
    run.absorb_reply(child_exit.reply)
    if termination is not None:
        return failed(termination.message, kind=termination.failure_kind, exit_code=exit_status(child_exit.returncode)[0])
    return python_outcome(child_exit.reply, child_exit.returncode, child_exit.channel_error)


async def run_python_task(run: TaskRun) -> Outcome:
    """Run a python-kind task to its outcome (before XCom pushes)."""
    outcome = await call_runner(run, "run", multiple_outputs=run.spec.multiple_outputs)
    if run.spec.kind == dag_pb2.OPERATOR_KIND_BRANCH_PYTHON:
        return branch_outcome(outcome)
    if run.spec.kind == dag_pb2.OPERATOR_KIND_SHORT_CIRCUIT:
        return short_circuit_outcome(outcome)
    return outcome


async def discard(child: ChildProcess) -> None:
    """Kill a runner that never received its work frame (no user code ran)."""
    child.signal_group(signal.SIGKILL)
    await child.wait()
