"""How a finished child becomes the reported outcome (pure rules, from tables)."""

from __future__ import annotations

import pytest
from leoflow_agent.outcome import (
    FAIL_NO_RETRY,
    FAILED,
    SKIPPED,
    SUCCESS,
    USER_ERROR,
    Outcome,
    bash_outcome,
    branch_outcome,
    exit_status,
    python_outcome,
    short_circuit_outcome,
    xcoms_to_push,
)
from leoflow_proto.common.v1 import states_pb2


@pytest.mark.parametrize(
    "returncode, expected",
    [
        (0, (0, "exited with code 0")),
        (3, (3, "exited with code 3")),
        (-9, (137, "was killed by signal SIGKILL (9)")),
        (-15, (143, "was killed by signal SIGTERM (15)")),
    ],
)
def test_exit_status_names_signals(returncode, expected):
    assert exit_status(returncode) == expected


def _error(kind, exc_type="ValueError", message="boom"):
    return {"type": "error", "kind": kind, "exc_type": exc_type, "message": message, "traceback": "..."}


@pytest.mark.parametrize(
    "reply, returncode, state, kind, message",
    [
        ({"type": "result", "value": 42}, 0, SUCCESS, states_pb2.FAILURE_KIND_UNSPECIFIED, ""),
        ({"type": "result", "value": None}, 0, SUCCESS, states_pb2.FAILURE_KIND_UNSPECIFIED, ""),
        (_error("user_error"), 1, FAILED, USER_ERROR, "ValueError: boom"),
        (_error("fail_no_retry", "AirflowFailException", "stop"), 1, FAILED, FAIL_NO_RETRY, "AirflowFailException: stop"),
        (_error("skip", "AirflowSkipException", "nothing to do"), 1, SKIPPED, states_pb2.FAILURE_KIND_UNSPECIFIED, "AirflowSkipException: nothing to do"),
        (_error("mystery"), 1, FAILED, USER_ERROR, "unknown error kind 'mystery'"),
        ({"type": "progress"}, 0, FAILED, USER_ERROR, "unexpected 'progress' frame"),
        ({"type": "result"}, 0, FAILED, USER_ERROR, "unexpected 'result' frame"),
        (None, 3, FAILED, USER_ERROR, "exited with code 3 without reporting a result"),
        (None, -9, FAILED, USER_ERROR, "was killed by signal SIGKILL (9) without reporting a result"),
    ],
)
def test_python_outcome(reply, returncode, state, kind, message):
    outcome = python_outcome(reply, returncode)
    assert (outcome.state, outcome.failure_kind) == (state, kind)
    assert message in outcome.error_message
    if message == "":
        assert outcome.error_message == ""


def test_python_outcome_without_reply_reports_exit_code_and_channel_error():
    outcome = python_outcome(None, -9, "malformed reply: frame payload is not JSON")
    assert outcome.exit_code == 137
    assert "control channel: malformed reply" in outcome.error_message


@pytest.mark.parametrize(
    "returncode, skip_codes, state, exit_code, message",
    [
        (0, [], SUCCESS, 0, ""),
        (99, [], SKIPPED, 99, "Bash command returned exit code 99. Skipping."),
        (99, [42], FAILED, 99, "non-zero exit code 99"),
        (42, [42], SKIPPED, 42, "exit code 42"),
        (1, [], FAILED, 1, "Bash command failed. The command returned a non-zero exit code 1."),
        (-9, [], FAILED, 137, "killed by signal SIGKILL"),
    ],
)
def test_bash_outcome(returncode, skip_codes, state, exit_code, message):
    outcome = bash_outcome(returncode, skip_codes)
    assert (outcome.state, outcome.exit_code) == (state, exit_code)
    assert message in outcome.error_message


@pytest.mark.parametrize(
    "value, follow",
    [("b", ("b",)), (["a", "c"], ("a", "c")), (None, ())],
)
def test_branch_follows_returned_task_ids(value, follow):
    outcome = branch_outcome(Outcome(SUCCESS, value=value))
    assert outcome.branch_decided and outcome.follow_task_ids == follow


def test_branch_with_a_non_task_id_value_fails():
    outcome = branch_outcome(Outcome(SUCCESS, value=3))
    assert outcome.state == FAILED and "'branch_task_ids' must be" in outcome.error_message


def test_failed_branch_stays_failed():
    failure = python_outcome(_error("user_error"), 1)
    assert branch_outcome(failure) is failure


@pytest.mark.parametrize("value, skip", [(True, False), (1, False), (False, True), (0, True), (None, True), ([], True)])
def test_short_circuit_skips_downstream_on_falsy(value, skip):
    assert short_circuit_outcome(Outcome(SUCCESS, value=value)).skip_downstream is skip


@pytest.mark.parametrize(
    "value, do_xcom_push, multiple_outputs, pushes",
    [
        (5, True, False, [("return_value", 5)]),
        (None, True, False, []),
        (5, False, False, []),
        ({"a": 1, "b": 2}, True, True, [("a", 1), ("b", 2), ("return_value", {"a": 1, "b": 2})]),
        ({"a": 1}, False, True, []),  # Airflow 3: no do_xcom_push, no XCom at all
        ("", True, False, [("return_value", "")]),
    ],
)
def test_xcoms_to_push_follow_airflow(value, do_xcom_push, multiple_outputs, pushes):
    assert xcoms_to_push(value, do_xcom_push=do_xcom_push, multiple_outputs=multiple_outputs) == pushes
