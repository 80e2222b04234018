"""Airflow's exception classes, by the names DAG files import and raise.

Tasks raise AirflowSkipException / AirflowFailException at run time and the agent maps
them to `skipped` / fail-without-retry; the authoring errors (DuplicateTaskIdFound,
AirflowDagCycleException, ...) are raised by the shim while a DAG file is recorded.
"""

from __future__ import annotations


class AirflowException(Exception):
    """Base class of Airflow's exceptions."""

    status_code = 500


class AirflowSkipException(AirflowException):
    """Raised by a task to mark itself skipped."""


class AirflowFailException(AirflowException):
    """Raised by a task to fail at once, without using its remaining retries."""


class AirflowSensorTimeout(AirflowException):
    """A sensor ran out of time."""


class AirflowTaskTimeout(AirflowException):
    """A task exceeded its execution_timeout."""


class AirflowTaskTerminated(AirflowException):
    """The task was stopped from outside (cancelled, superseded, or its process signalled)."""


class AirflowNotFoundException(AirflowException):
    """A requested object (connection, variable) does not exist."""


class AirflowBadRequest(AirflowException):
    """A request was malformed."""


class ParamValidationError(AirflowException):
    """A DAG param's value does not match its schema."""


class DuplicateTaskIdFound(AirflowException):
    """Two tasks (or groups) of one DAG share an id."""


class TaskNotFound(AirflowException):
    """A task id names no task of the DAG."""


class AirflowDagCycleException(AirflowException):
    """The DAG's dependencies form a cycle."""


class XComNotFound(AirflowException):
    """A pulled XCom does not exist."""


class DownstreamTasksSkipped(AirflowException):
    """Raised by branching operators to skip downstream tasks (runtime only)."""

    def __init__(self, *, tasks):
        super().__init__()
        self.tasks = tasks
