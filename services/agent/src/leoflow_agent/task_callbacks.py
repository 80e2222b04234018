"""Task and DAG callbacks, run by the agent in the task's pod or process tree.

Which task callback runs is decided here, from the final outcome (after the XCom
pushes, which can still fail a task), as Airflow's task runner decides it:

    success                                -> on_success_callback
    skipped                                -> on_skipped_callback
    failed, and the try will be retried    -> on_retry_callback
    failed for good                        -> on_failure_callback

A failure is retried when it may be (not AirflowFailException, not an
infrastructure failure), the task has retries, and try_number <= max_tries: the
scheduler's rule (Airflow's TaskInstance.is_eligible_to_retry). An
infrastructure failure ran no user code and is re-dispatched as the same try, so
it runs no callback. Callbacks run in a fresh runner with the task's context
(context["exception"] rebuilt from the failure) before the terminal state is
reported; one that raises is logged and changes nothing. A try the control plane
cancelled, or an agent told to shut down, runs none; after an execution_timeout
they still run (with their own stop request: heartbeats and signals still count).

DAG callbacks (TaskExecution.dag_callback) run the DAG's on_success_callback /
on_failure_callback with the run's context and the reason; the execution reports
success, or failure when a callback raised.
"""

from __future__ import annotations

from typing import Any

from leoflow_proto.common.v1 import states_pb2

from .outcome import FAILED, SKIPPED, SUCCESS, Outcome, exit_status, failed, python_outcome
from .python_task import discard, start_runner, work_frame
from .supervision import StopRequest
from .task_run import TaskRun

ON_SUCCESS = "on_success_callback"
ON_FAILURE = "on_failure_callback"
ON_RETRY = "on_retry_callback"
ON_SKIPPED = "on_skipped_callback"

_NOT_RETRIED = frozenset({states_pb2.FAILURE_KIND_FAIL_NO_RETRY, states_pb2.FAILURE_KIND_INFRASTRUCTURE})


def will_retry(failure_kind: int, *, retries: int, try_number: int, max_tries: int) -> bool:
    """Whether the scheduler will retry a try that failed with `failure_kind`."""
    return failure_kind not in _NOT_RETRIED and retries > 0 and try_number <= max_tries


def callback_kind(outcome: Outcome, *, callbacks: Any, retries: int, try_number: int, max_tries: int) -> str | None:
    """The task callback to run for `outcome` (None: none, or the task has none of that kind)."""
    if outcome.state == SUCCESS:
        return ON_SUCCESS if callbacks.on_success else None
    if outcome.state == SKIPPED:
        return ON_SKIPPED if callbacks.on_skipped else None
    if outcome.state != FAILED or outcome.failure_kind == states_pb2.FAILURE_KIND_INFRASTRUCTURE:
        return None
    if will_retry(outcome.failure_kind, retries=retries, try_number=try_number, max_tries=max_tries):
        return ON_RETRY if callbacks.on_retry else None
    return ON_FAILURE if callbacks.on_failure else None


def error_info(outcome: Outcome, reply: dict[str, Any] | None) -> dict[str, Any] | None:
    """What context["exception"] is rebuilt from: the runner's own report of the
    exception when user code raised, else the agent's "Type: message" error."""
    if outcome.state != FAILED:
        return None
    if reply and reply.get("type") == "error" and reply.get("exc_type"):
        return {k: reply.get(k) for k in ("exc_type", "exc_module", "exc_args", "message", "traceback")}
    name, sep, message = outcome.error_message.partition(": ")
    if sep and name.isidentifier():
        return {"exc_type": name, "exc_module": None, "message": message, "traceback": ""}
    return {"exc_type": "AirflowException", "exc_module": None, "message": outcome.error_message, "traceback": ""}


def _stopped_by_control_plane_or_signal(run: TaskRun) -> bool:
    termination = run.stop.termination
    return termination is not None and termination.failure_kind != states_pb2.FAILURE_KIND_TIMEOUT


async def run_task_callback(run: TaskRun, outcome: Outcome) -> None:
    """Run the task callback `outcome` calls for, if any; never changes the outcome."""
    spec = run.spec
    kind = callback_kind(
        outcome, callbacks=spec.callbacks, retries=spec.retries, try_number=run.execution.try_number, max_tries=run.execution.max_tries
    )
    if kind is None:
        return
    if _stopped_by_control_plane_or_signal(run):
        run.agent_log("warning", f"Not running {kind}: {run.stop.termination.message}")  # type: ignore[union-attr]
        return
    if run.stop.requested:  # the timeout is over; the callback gets a stop request of its own
        run.stop = StopRequest()
    run.agent_log("info", f"Running {kind}")
    child = await start_runner(run)
    await child.send(work_frame(run, "callback", kind=kind, error=error_info(outcome, run.last_reply)))
    child_exit, termination = await run.supervise(child, timed=False)
    reply = child_exit.reply
    if termination is not None:
        run.agent_log("error", f"{kind} was stopped: {termination.message}")
    elif reply is None or reply.get("type") != "result":
        detail = reply.get("message") if reply else (child_exit.channel_error or exit_status(child_exit.returncode)[1])
        run.agent_log("error", f"{kind} could not run: {detail}")
    else:
        result = reply.get("value") or {}
        for failure in result.get("failed") or []:
            run.agent_log("error", f"{kind} failed: {failure}")


async def run_dag_callback(run: TaskRun) -> Outcome:
    """Run the DAG-level callback the execution names; its outcome."""
    callback = run.execution.dag_callback
    if callback.kind not in (ON_SUCCESS, ON_FAILURE):
        return failed(f"AgentError: unknown DAG callback kind {callback.kind!r}")
    child = await start_runner(run)
    refusal = await run.report_running()
    if refusal is not None:
        await discard(child)
        return failed(refusal.message, kind=refusal.failure_kind)
    run.agent_log("info", f"Running the DAG's {callback.kind} (reason: {callback.reason or 'none given'})")
    await child.send(work_frame(run, "dag_callback", kind=callback.kind, reason=callback.reason))
    child_exit, termination = await run.supervise(child)
    run.log_exit(child_exit.returncode)
    if termination is not None:
        return failed(termination.message, kind=termination.failure_kind, exit_code=exit_status(child_exit.returncode)[0])
    outcome = python_outcome(child_exit.reply, child_exit.returncode, child_exit.channel_error)
    return Outcome(outcome.state, error_message=outcome.error_message, failure_kind=outcome.failure_kind, exit_code=outcome.exit_code)
