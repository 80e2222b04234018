"""How a finished child becomes a task outcome. Pure functions, no I/O.

The rules, in one place:
- Python tasks: the runner's reply frame decides. "result" -> success; "error" ->
  skipped (AirflowSkipException), failed without retry (AirflowFailException) or
  failed (anything else). No reply at all, or a reply we cannot read -> failed, and
  the message says how the process ended (exit code or signal): fail closed.
- Bash tasks: exit code 0 -> success; a code in skip_on_exit_code (Airflow's default
  [99]) -> skipped; anything else, signals included -> failed with that code.
- An agent-side termination (execution_timeout, should_terminate, SIGTERM) wins over
  whatever the killed child managed to say.
- Branch and short-circuit tasks turn their success value into routing fields.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, replace
from typing import Any

from leoflow_proto.common.v1 import states_pb2

SUCCESS = states_pb2.TASK_INSTANCE_STATE_SUCCESS
FAILED = states_pb2.TASK_INSTANCE_STATE_FAILED
SKIPPED = states_pb2.TASK_INSTANCE_STATE_SKIPPED

USER_ERROR = states_pb2.FAILURE_KIND_USER_ERROR
INFRASTRUCTURE = states_pb2.FAILURE_KIND_INFRASTRUCTURE
FAIL_NO_RETRY = states_pb2.FAILURE_KIND_FAIL_NO_RETRY
TIMEOUT = states_pb2.FAILURE_KIND_TIMEOUT

AIRFLOW_DEFAULT_SKIP_EXIT_CODES = (99,)

_ERROR_KINDS = {"user_error": USER_ERROR, "fail_no_retry": FAIL_NO_RETRY}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the agent reports (and, on success, the value it pushes)."""

    state: int
    exit_code: int = 0
    error_message: str = ""
    failure_kind: int = states_pb2.FAILURE_KIND_UNSPECIFIED
    value: Any = None
    follow_task_ids: tuple[str, ...] = ()
    branch_decided: bool = False
    skip_downstream: bool = False

    @property
    def succeeded(self) -> bool:
        return self.state == SUCCESS


def failed(message: str, *, kind: int = USER_ERROR, exit_code: int = 0) -> Outcome:
    return Outcome(FAILED, exit_code=exit_code, error_message=message, failure_kind=kind)


def exit_status(returncode: int | None) -> tuple[int, str]:
    """(exit code to report, human text) for a process's return code.

    asyncio reports death by signal N as -N; we report 128+N, as a shell would, and
    name the signal in the text.
    """
    if returncode is None:
        return 0, "is still running"
    if returncode >= 0:
        return returncode, f"exited with code {returncode}"
    number = -returncode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    return 128 + number, f"was killed by signal {name} ({number})"


def python_outcome(reply: dict[str, Any] | None, returncode: int | None, channel_error: str | None = None) -> Outcome:
    """The outcome of a Python task from the runner's reply and exit status."""
    code, how = exit_status(returncode)
    if reply is None:
        reason = f"; control channel: {channel_error}" if channel_error else ""
        return failed(f"TaskProcessDied: the task's process {how} without reporting a result{reason}", exit_code=code)
    if reply.get("type") == "result" and "value" in reply:
        return Outcome(SUCCESS, exit_code=code, value=reply["value"])
    if reply.get("type") == "error":
        kind = reply.get("kind")
        message = f"{reply.get('exc_type', 'Exception')}: {reply.get('message', '')}"
        if kind == "skip":
            return Outcome(SKIPPED, exit_code=code, error_message=message)
        if kind in _ERROR_KINDS:
            return failed(message, kind=_ERROR_KINDS[kind], exit_code=code)
        return failed(f"ProtocolError: the task's runner sent an unknown error kind {kind!r} ({message})", exit_code=code)
    return failed(f"ProtocolError: the task's runner sent an unexpected {reply.get('type')!r} frame", exit_code=code)


def bash_outcome(returncode: int, skip_on_exit_code: tuple[int, ...] | list[int] = ()) -> Outcome:
    """The outcome of a bash task from its exit status (BashOperator's messages)."""
    skip_codes = tuple(skip_on_exit_code) or AIRFLOW_DEFAULT_SKIP_EXIT_CODES
    code, how = exit_status(returncode)
    if returncode == 0:
        return Outcome(SUCCESS)
    if returncode in skip_codes:
        return Outcome(SKIPPED, exit_code=code, error_message=f"AirflowSkipException: Bash command returned exit code {code}. Skipping.")
    if returncode < 0:
        return failed(f"AirflowException: Bash command failed. The command {how}.", exit_code=code)
    return failed(f"AirflowException: Bash command failed. The command returned a non-zero exit code {code}.", exit_code=code)


def branch_outcome(outcome: Outcome) -> Outcome:
    """BranchPythonOperator: the value names the task id(s) to follow (None: none)."""
    if not outcome.succeeded:
        return outcome
    value = outcome.value
    if value is None:
        follow: tuple[str, ...] = ()
    elif isinstance(value, str):
        follow = (value,)
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        follow = tuple(value)
    else:
        return failed(
            f"AirflowException: 'branch_task_ids' must be either None, a task ID, or an Iterable of IDs, but got {type(value).__name__!r}."
        )
    return replace(outcome, follow_task_ids=follow, branch_decided=True)


def short_circuit_outcome(outcome: Outcome) -> Outcome:
    """ShortCircuitOperator: a falsy value skips the downstream tasks."""
    if not outcome.succeeded:
        return outcome
    return replace(outcome, skip_downstream=not outcome.value)


def xcoms_to_push(value: Any, *, do_xcom_push: bool, multiple_outputs: bool) -> list[tuple[str, Any]]:
    """The (key, value) XComs of a successful task, as Airflow 3 pushes them
    (task_runner._push_xcom_if_needed): nothing without do_xcom_push or for a None
    value; else each key of a dict with multiple_outputs, then "return_value"."""
    if not do_xcom_push or value is None:
        return []
    pushes: list[tuple[str, Any]] = []
    if multiple_outputs and isinstance(value, dict):
        pushes.extend(value.items())
    pushes.append(("return_value", value))
    return pushes


def output_lengths(value: Any, *, multiple_outputs: bool) -> dict[str, int] | str:
    """Lengths a mapped downstream needs (by XCom key), or why the value cannot be
    mapped over (Airflow's XComForMappingNotPushed / UnmappableXComTypePushed)."""
    if value is None:
        return "XComForMappingNotPushed: did not push XCom for task mapping"
    if not isinstance(value, (list, dict)):
        return f"UnmappableXComTypePushed: unmappable return type {type(value).__qualname__!r}"
    lengths = {"return_value": len(value)}
    if multiple_outputs and isinstance(value, dict):
        lengths.update({key: len(item) for key, item in value.items() if isinstance(item, (list, dict))})
    return lengths
