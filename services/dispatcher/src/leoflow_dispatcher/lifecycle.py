"""The rules of an execution's life, as pure functions over `Execution`.

- Agents report RUNNING ("user code is starting") at most once, then exactly one
  terminal state (success, failed, skipped). A repeat of an accepted report is a
  retry and is answered again; anything out of order is FailedPrecondition.
  FAILED may come without RUNNING (the agent failed before user code started).
- An execution that ends without a terminal report fails: as an infrastructure
  failure (no try consumed) if user code never started, else as a user error.
- Supervision fails an execution that outlives its execution_timeout (TIMEOUT),
  goes silent after user code started (HEARTBEAT_LOST) or never gets going
  (INFRASTRUCTURE).
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from enum import Enum

from leoflow_common.errors import FailedPrecondition, InvalidArgument
from leoflow_common.states import TaskInstanceState
from leoflow_proto.common.v1 import states_pb2

from .execution import Execution

TI = TaskInstanceState
REPORTABLE = frozenset({TI.RUNNING, TI.SUCCESS, TI.FAILED, TI.SKIPPED})
TERMINAL = frozenset({TI.SUCCESS, TI.FAILED, TI.SKIPPED})
MAX_ERROR_MESSAGE = 8192


class ReportVerdict(Enum):
    ACCEPT = "accept"
    # Already accepted: answer again (and make sure its event is out).
    REPEAT = "repeat"


@dataclass(frozen=True, slots=True)
class Limits:
    heartbeat_timeout: float
    startup_timeout: float
    execution_timeout_grace: float


@dataclass(frozen=True, slots=True)
class Failure:
    kind: int  # states_pb2.FailureKind
    message: str
    exit_code: int = 0


def parse_reported_state(value: int) -> TaskInstanceState:
    """The state an agent reports; InvalidArgument for anything not reportable."""
    try:
        state = TI.from_proto(value)
    except (KeyError, ValueError):
        state = None
    if state not in REPORTABLE:
        raise InvalidArgument(
            f"an agent reports running, success, failed or skipped, not {_state_label(value)}",
            field="state",
        )
    return state


def judge_report(execution: Execution, state: TaskInstanceState) -> ReportVerdict:
    """Whether `state` may be reported now (FailedPrecondition when not)."""
    if execution.outcome is not None:
        if state == execution.outcome and state in execution.reported:
            return ReportVerdict.REPEAT
        raise FailedPrecondition(
            f"this try already ended as {execution.outcome}; it cannot become {state} now"
        )
    if state in execution.reported:
        return ReportVerdict.REPEAT
    if state in (TI.SUCCESS, TI.SKIPPED) and not execution.user_code_started:
        raise FailedPrecondition(
            f"report running before {state}: user code must start before it can end"
        )
    return ReportVerdict.ACCEPT


def failure_kind_for_report(execution: Execution, state: TaskInstanceState, requested: int) -> int:
    """The failure kind to publish with a report; InvalidArgument if it makes no sense."""
    if requested not in states_pb2.FailureKind.values():
        raise InvalidArgument(f"unknown failure_kind {requested}", field="failure_kind")
    if state != TI.FAILED:
        if requested != states_pb2.FAILURE_KIND_UNSPECIFIED:
            raise InvalidArgument(
                f"failure_kind is only valid with state failed, not {state}", field="failure_kind"
            )
        return states_pb2.FAILURE_KIND_UNSPECIFIED
    if requested != states_pb2.FAILURE_KIND_UNSPECIFIED:
        return requested
    if execution.user_code_started:
        return states_pb2.FAILURE_KIND_USER_ERROR
    return states_pb2.FAILURE_KIND_INFRASTRUCTURE


def failure_on_exit(
    execution: Execution, exit_code: int | None, stderr_tail: str
) -> Failure | None:
    """The failure to publish when an execution's process is gone, None if it had ended."""
    if execution.ended:
        return None
    how = _describe_exit(exit_code)
    if execution.user_code_started:
        message = f"agent {how} without reporting"
        kind = states_pb2.FAILURE_KIND_USER_ERROR
    else:
        message = f"agent {how} before user code started"
        kind = states_pb2.FAILURE_KIND_INFRASTRUCTURE
    if stderr_tail.strip():
        message += f"; last lines of its stderr:\n{stderr_tail.rstrip()}"
    return Failure(kind=kind, message=clip_message(message), exit_code=exit_code or 0)


def overdue_failure(execution: Execution, now: float, limits: Limits) -> Failure | None:
    """The failure of a live execution that supervision must stop, None if it is fine."""
    if execution.ended or not execution.alive:
        return None
    timeout = execution.execution_timeout
    if execution.running_since is not None and timeout is not None:
        if now - execution.running_since >= timeout + limits.execution_timeout_grace:
            return Failure(
                kind=states_pb2.FAILURE_KIND_TIMEOUT,
                message=f"execution_timeout of {_seconds(timeout)} exceeded; the task was killed",
            )
    if execution.last_contact_at is None:
        if now - execution.launched_at >= limits.startup_timeout:
            return Failure(
                kind=states_pb2.FAILURE_KIND_INFRASTRUCTURE,
                message=f"agent did not call the dispatcher within {_seconds(limits.startup_timeout)} of its start",
            )
        return None
    silence = now - execution.last_contact_at
    if silence < limits.heartbeat_timeout:
        return None
    if execution.user_code_started:
        return Failure(
            kind=states_pb2.FAILURE_KIND_HEARTBEAT_LOST,
            message=f"no heartbeat for {_seconds(silence)} (timeout {_seconds(limits.heartbeat_timeout)}); the task was killed",
        )
    return Failure(
        kind=states_pb2.FAILURE_KIND_INFRASTRUCTURE,
        message=f"agent went silent for {_seconds(silence)} before user code started",
    )


def lingers(execution: Execution, now: float, limits: Limits) -> bool:
    """True when an execution that ended is still alive long after: stop it."""
    return (
        execution.ended
        and execution.alive
        and execution.ended_at is not None
        and now - execution.ended_at >= limits.heartbeat_timeout
    )


def clip_message(message: str) -> str:
    """Bound an error message (the end is kept: that is where tracebacks say why)."""
    if len(message) <= MAX_ERROR_MESSAGE:
        return message
    return "…" + message[-(MAX_ERROR_MESSAGE - 1) :]


def _describe_exit(exit_code: int | None) -> str:
    if exit_code is None:
        return "exited (exit code unknown: it ran while the dispatcher was away)"
    if exit_code < 0:
        try:
            name = signal.Signals(-exit_code).name
        except ValueError:
            name = f"signal {-exit_code}"
        return f"exited with code {exit_code} (killed by {name})"
    return f"exited with code {exit_code}"


def _seconds(value: float) -> str:
    return f"{value:g}s"


def _state_label(value: int) -> str:
    try:
        return TI.from_proto(value).value
    except (KeyError, ValueError):
        return f"state {value}"
