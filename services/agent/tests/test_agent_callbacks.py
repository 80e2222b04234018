"""Which task callback a finished try runs (task_callbacks.callback_kind) and what
context["exception"] is rebuilt from, as tables of Airflow's task-runner rules."""

from __future__ import annotations

import pytest
from leoflow_agent.outcome import FAILED, SKIPPED, SUCCESS, Outcome
from leoflow_agent.runner_tasks import rebuild_exception
from leoflow_agent.task_callbacks import callback_kind, error_info, will_retry
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1 import dag_pb2

ALL = dag_pb2.TaskCallbacks(on_success=True, on_failure=True, on_retry=True, on_skipped=True)
USER = states_pb2.FAILURE_KIND_USER_ERROR
NO_RETRY = states_pb2.FAILURE_KIND_FAIL_NO_RETRY
TIMEOUT = states_pb2.FAILURE_KIND_TIMEOUT
INFRA = states_pb2.FAILURE_KIND_INFRASTRUCTURE


def failed(kind: int = USER) -> Outcome:
    return Outcome(FAILED, error_message="ValueError: boom", failure_kind=kind)


@pytest.mark.parametrize(
    "outcome, retries, try_number, max_tries, callbacks, expected",
    [
        (Outcome(SUCCESS), 0, 1, 0, ALL, "on_success_callback"),
        (Outcome(SKIPPED), 0, 1, 0, ALL, "on_skipped_callback"),
        # retries=2: max_tries=2; tries 1 and 2 are retried, try 3 fails for good.
        (failed(), 2, 1, 2, ALL, "on_retry_callback"),
        (failed(), 2, 2, 2, ALL, "on_retry_callback"),
        (failed(), 2, 3, 2, ALL, "on_failure_callback"),
        # no retries at all
        (failed(), 0, 1, 0, ALL, "on_failure_callback"),
        # AirflowFailException never retries
        (failed(NO_RETRY), 3, 1, 3, ALL, "on_failure_callback"),
        # execution_timeout consumes a try and is retried like any failure
        (failed(TIMEOUT), 1, 1, 1, ALL, "on_retry_callback"),
        # an infrastructure failure ran no user code and is re-dispatched as the same try
        (failed(INFRA), 0, 1, 0, ALL, None),
        # a cleared task (max_tries extended past try_number) retries again
        (failed(), 1, 3, 4, ALL, "on_retry_callback"),
        # only the callbacks the task has
        (Outcome(SUCCESS), 0, 1, 0, dag_pb2.TaskCallbacks(on_failure=True), None),
        (failed(), 1, 1, 1, dag_pb2.TaskCallbacks(on_failure=True), None),
        (failed(), 1, 2, 1, dag_pb2.TaskCallbacks(on_failure=True), "on_failure_callback"),
    ],
)
def test_callback_kind_follows_the_retry_decision(outcome, retries, try_number, max_tries, callbacks, expected):
    assert callback_kind(outcome, callbacks=callbacks, retries=retries, try_number=try_number, max_tries=max_tries) == expected


def test_will_retry_is_the_schedulers_rule():
    assert will_retry(USER, retries=1, try_number=1, max_tries=1)
    assert not will_retry(USER, retries=0, try_number=1, max_tries=5)
    assert not will_retry(NO_RETRY, retries=5, try_number=1, max_tries=5)


def test_error_info_prefers_the_runners_report_of_the_exception():
    reply = {"type": "error", "exc_type": "KeyError", "exc_module": "builtins", "message": "'x'", "traceback": "Traceback..."}
    assert error_info(failed(), reply) == {
        "exc_type": "KeyError", "exc_module": "builtins", "exc_args": None, "message": "'x'", "traceback": "Traceback...",
    }
    timeout = Outcome(FAILED, error_message="AirflowTaskTimeout: Task exceeded its execution_timeout of 1s")
    assert error_info(timeout, None) == {"exc_type": "AirflowTaskTimeout", "exc_module": None, "message": "Task exceeded its execution_timeout of 1s", "traceback": ""}
    assert error_info(Outcome(FAILED, error_message="no type here"), None)["exc_type"] == "AirflowException"
    assert error_info(Outcome(SUCCESS), None) is None


def test_rebuilt_exceptions_keep_their_class_when_it_can_be_imported():
    exc = rebuild_exception({"exc_type": "KeyError", "exc_module": "builtins", "exc_args": ["x"], "message": "'x'", "traceback": "tb"})
    assert isinstance(exc, KeyError) and exc.args == ("x",) and str(exc) == "'x'" and exc.__notes__ == ["tb"]
    timeout = rebuild_exception({"exc_type": "AirflowTaskTimeout", "exc_module": "airflow.exceptions", "message": "late"})
    assert type(timeout).__name__ == "AirflowTaskTimeout" and str(timeout) == "late"
    from airflow.exceptions import AirflowException

    assert isinstance(timeout, AirflowException)
    unknown = rebuild_exception({"exc_type": "MyDomainError", "exc_module": "no.such.module", "message": "m"})
    assert type(unknown).__name__ == "MyDomainError" and isinstance(unknown, Exception) and str(unknown) == "m"
    assert rebuild_exception(None) is None
