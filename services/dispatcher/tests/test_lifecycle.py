"""The rules of an execution's life, from tables (pure: no processes, no bus)."""

from __future__ import annotations

import pytest
from google.protobuf.duration_pb2 import Duration
from leoflow_common.errors import FailedPrecondition, InvalidArgument
from leoflow_common.states import TaskInstanceState
from leoflow_dispatcher.execution import Execution
from leoflow_dispatcher.lifecycle import (
    MAX_ERROR_MESSAGE,
    Limits,
    ReportVerdict,
    clip_message,
    failure_kind_for_report,
    failure_on_exit,
    judge_report,
    lingers,
    overdue_failure,
    parse_reported_state,
)
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution

TI = TaskInstanceState
LIMITS = Limits(heartbeat_timeout=30, startup_timeout=120, execution_timeout_grace=5)


def execution(*, reported=(), outcome=None, cancelled=False, timeout=None, **fields) -> Execution:
    spec = TaskExecution(tenant_id="t")
    if timeout is not None:
        spec.task.execution_timeout.CopyFrom(Duration(seconds=timeout))
    return Execution(
        name="n",
        spec=spec,
        launched_at=0.0,
        reported=list(reported),
        outcome=outcome,
        cancelled=cancelled,
        **fields,
    )


@pytest.mark.parametrize(
    "reported, outcome, state, verdict",
    [
        ((), None, TI.RUNNING, ReportVerdict.ACCEPT),
        ((), None, TI.FAILED, ReportVerdict.ACCEPT),  # failed before user code started
        ((TI.RUNNING,), None, TI.RUNNING, ReportVerdict.REPEAT),
        ((TI.RUNNING,), None, TI.SUCCESS, ReportVerdict.ACCEPT),
        ((TI.RUNNING,), None, TI.SKIPPED, ReportVerdict.ACCEPT),
        ((TI.RUNNING,), None, TI.FAILED, ReportVerdict.ACCEPT),
        ((TI.RUNNING, TI.SUCCESS), TI.SUCCESS, TI.SUCCESS, ReportVerdict.REPEAT),
        ((TI.FAILED,), TI.FAILED, TI.FAILED, ReportVerdict.REPEAT),
    ],
)
def test_reports_in_order_are_accepted_and_repeats_are_retries(reported, outcome, state, verdict):
    assert judge_report(execution(reported=reported, outcome=outcome), state) is verdict


@pytest.mark.parametrize(
    "reported, outcome, state",
    [
        ((), None, TI.SUCCESS),
        ((), None, TI.SKIPPED),
        ((TI.RUNNING, TI.SUCCESS), TI.SUCCESS, TI.FAILED),
        ((TI.RUNNING, TI.SUCCESS), TI.SUCCESS, TI.RUNNING),
        ((TI.RUNNING, TI.SKIPPED), TI.SKIPPED, TI.SUCCESS),
        ((TI.FAILED,), TI.FAILED, TI.RUNNING),
        # The dispatcher ended the try (e.g. timeout): the agent's own verdict is too late.
        ((TI.RUNNING,), TI.FAILED, TI.FAILED),
        ((TI.RUNNING,), TI.FAILED, TI.SUCCESS),
    ],
)
def test_reports_out_of_order_are_failed_preconditions(reported, outcome, state):
    with pytest.raises(FailedPrecondition):
        judge_report(execution(reported=reported, outcome=outcome), state)


@pytest.mark.parametrize(
    "value",
    [
        states_pb2.TASK_INSTANCE_STATE_UNSPECIFIED,
        states_pb2.TASK_INSTANCE_STATE_QUEUED,
        states_pb2.TASK_INSTANCE_STATE_UP_FOR_RETRY,
        states_pb2.TASK_INSTANCE_STATE_DEFERRED,
        1000,
        -1,
    ],
)
def test_only_running_and_terminal_states_can_be_reported(value):
    with pytest.raises(InvalidArgument) as caught:
        parse_reported_state(value)
    assert caught.value.field == "state"


def test_reportable_states_parse():
    assert parse_reported_state(states_pb2.TASK_INSTANCE_STATE_SKIPPED) is TI.SKIPPED


@pytest.mark.parametrize(
    "started, state, requested, expected",
    [
        (True, TI.FAILED, states_pb2.FAILURE_KIND_UNSPECIFIED, states_pb2.FAILURE_KIND_USER_ERROR),
        (
            False,
            TI.FAILED,
            states_pb2.FAILURE_KIND_UNSPECIFIED,
            states_pb2.FAILURE_KIND_INFRASTRUCTURE,
        ),
        (
            True,
            TI.FAILED,
            states_pb2.FAILURE_KIND_FAIL_NO_RETRY,
            states_pb2.FAILURE_KIND_FAIL_NO_RETRY,
        ),
        (True, TI.FAILED, states_pb2.FAILURE_KIND_TIMEOUT, states_pb2.FAILURE_KIND_TIMEOUT),
        (
            True,
            TI.SUCCESS,
            states_pb2.FAILURE_KIND_UNSPECIFIED,
            states_pb2.FAILURE_KIND_UNSPECIFIED,
        ),
        (
            False,
            TI.RUNNING,
            states_pb2.FAILURE_KIND_UNSPECIFIED,
            states_pb2.FAILURE_KIND_UNSPECIFIED,
        ),
    ],
)
def test_failure_kind_of_a_report(started, state, requested, expected):
    subject = execution(reported=(TI.RUNNING,) if started else ())
    assert failure_kind_for_report(subject, state, requested) == expected


@pytest.mark.parametrize(
    "state, requested", [(TI.SUCCESS, states_pb2.FAILURE_KIND_USER_ERROR), (TI.FAILED, 42)]
)
def test_failure_kind_that_makes_no_sense_is_refused(state, requested):
    with pytest.raises(InvalidArgument):
        failure_kind_for_report(execution(reported=(TI.RUNNING,)), state, requested)


def test_exit_before_user_code_started_is_an_infrastructure_failure():
    failure = failure_on_exit(execution(), 3, "ImportError: no module named pandas\n")
    assert failure.kind == states_pb2.FAILURE_KIND_INFRASTRUCTURE
    assert failure.exit_code == 3
    assert failure.message.startswith("agent exited with code 3 before user code started")
    assert failure.message.endswith("ImportError: no module named pandas")


def test_exit_after_user_code_started_is_a_user_error():
    failure = failure_on_exit(execution(reported=(TI.RUNNING,)), 1, "")
    assert failure.kind == states_pb2.FAILURE_KIND_USER_ERROR
    assert failure.message == "agent exited with code 1 without reporting"


def test_exit_by_signal_and_unknown_exit_are_described():
    assert "killed by SIGKILL" in failure_on_exit(execution(reported=(TI.RUNNING,)), -9, "").message
    unknown = failure_on_exit(execution(reported=(TI.RUNNING,)), None, "")
    assert "exit code unknown" in unknown.message and unknown.exit_code == 0


@pytest.mark.parametrize(
    "subject",
    [
        execution(reported=(TI.RUNNING, TI.SUCCESS), outcome=TI.SUCCESS),
        execution(reported=(TI.RUNNING,), outcome=TI.FAILED),
        execution(reported=(TI.RUNNING,), cancelled=True),
    ],
)
def test_exit_after_the_try_ended_is_no_failure(subject):
    assert failure_on_exit(subject, 1, "x") is None


def test_long_error_messages_keep_their_end():
    clipped = clip_message("x" * 10_000 + "the reason")
    assert len(clipped) == MAX_ERROR_MESSAGE and clipped.endswith("the reason")
    assert clip_message("short") == "short"


@pytest.mark.parametrize(
    "fields, now, kind",
    [
        # Quiet agents within their limits.
        (dict(), 119.0, None),
        (dict(last_contact_at=100.0), 129.0, None),
        (dict(reported=(TI.RUNNING,), last_contact_at=100.0, running_since=100.0), 129.0, None),
        # Never called the dispatcher.
        (dict(), 120.0, states_pb2.FAILURE_KIND_INFRASTRUCTURE),
        # Went silent before user code started.
        (dict(last_contact_at=100.0), 130.0, states_pb2.FAILURE_KIND_INFRASTRUCTURE),
        # Went silent while user code ran.
        (
            dict(reported=(TI.RUNNING,), last_contact_at=100.0, running_since=90.0),
            130.0,
            states_pb2.FAILURE_KIND_HEARTBEAT_LOST,
        ),
        # Overran execution_timeout (10 s) plus the grace (5 s), heartbeating all along.
        (
            dict(reported=(TI.RUNNING,), last_contact_at=114.0, running_since=100.0, timeout=10),
            115.0,
            states_pb2.FAILURE_KIND_TIMEOUT,
        ),
        (
            dict(reported=(TI.RUNNING,), last_contact_at=114.0, running_since=100.0, timeout=10),
            114.9,
            None,
        ),
        # Ended, cancelled or gone: nothing to stop.
        (dict(reported=(TI.RUNNING,), outcome=TI.SUCCESS, last_contact_at=0.0), 1000.0, None),
        (dict(cancelled=True), 1000.0, None),
        (dict(alive=False), 1000.0, None),
    ],
)
def test_overdue_failure(fields, now, kind):
    failure = overdue_failure(execution(**fields), now, LIMITS)
    assert (failure.kind if failure else None) == kind


def test_an_ended_execution_that_keeps_running_lingers():
    ended = execution(reported=(TI.RUNNING, TI.SUCCESS), outcome=TI.SUCCESS, ended_at=100.0)
    assert not lingers(ended, 129.0, LIMITS)
    assert lingers(ended, 130.0, LIMITS)
    ended.alive = False
    assert not lingers(ended, 1000.0, LIMITS)
