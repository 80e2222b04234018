"""The running task instance as user code sees it: `context["ti"]`.

RuntimeTaskInstance carries the identity of the try (dag_id, run_id, task_id,
map_index, try_number, max_tries, ...) and Airflow's XCom methods. XComs travel
through an `XComTransport` the runner installs (frames to the agent, which holds
the task's token); the shim itself never talks to the control plane.

xcom_pull follows Airflow 3.2 (RuntimeTaskInstance.xcom_pull):
- task_ids None means this task; a string or None asks for one task, any other
  iterable for several (the result is then a list);
- map_indexes not given: every value of each task (all its map indexes, in
  map_index order); one task with exactly one value gives that value, nothing at
  all gives None (not `default`); several tasks give one flat list with None for
  a task that has no value;
- map_indexes given (an int, None for "any", or an iterable): one value per
  (task, map index) pair, `default` where there is none; a single task and a
  single index give the value itself.
Only the task's own DAG run can be read (Leoflow scopes a task's token to its run).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from airflow._shim.exceptions import AirflowException
from airflow._shim.params import NOTSET

XCOM_RETURN_KEY = "return_value"


class XComTransport(Protocol):
    """How the task instance reaches XComs of its own run."""

    def get_one(self, task_id: str, key: str, map_index: int | None) -> tuple[bool, Any]:
        """(found, value) of one task instance's XCom (map_index None: any)."""

    def get_all(self, task_id: str, key: str) -> list[Any]:
        """Every value of `task_id`'s XCom `key`, in map_index order."""

    def push(self, key: str, value: Any) -> None:
        """Store `value` under `key` for this task instance."""


class _NoTransport:
    def _fail(self, *args: Any) -> Any:
        raise RuntimeError("XComs are only reachable while a task runs in Leoflow's agent")

    get_one = get_all = push = _fail


class RuntimeTaskInstance:
    """`ti` / `task_instance` of a running task."""

    def __init__(
        self,
        *,
        task: Any,
        dag_id: str,
        run_id: str,
        task_id: str,
        map_index: int = -1,
        try_number: int = 1,
        max_tries: int = 0,
        hostname: str = "",
        id: str = "",
        dag_version_id: str = "",
        start_date: datetime | None = None,
        xcom: XComTransport | None = None,
    ):
        self.task = task
        self.dag_id = dag_id
        self.run_id = run_id
        self.task_id = task_id
        self.map_index = map_index
        self.try_number = try_number
        self.max_tries = max_tries
        self.hostname = hostname
        self.id = id
        self.dag_version_id = dag_version_id
        self.start_date = start_date
        self.end_date: datetime | None = None
        self.state = "running"
        self.rendered_map_index: str | None = None
        self._xcom: XComTransport = xcom or _NoTransport()
        self._context: dict[str, Any] | None = None

    # -- context ---------------------------------------------------------------------
    def bind_context(self, context: dict[str, Any]) -> None:
        """The context get_template_context returns (one dict per try, as in Airflow)."""
        self._context = context

    def get_template_context(self) -> dict[str, Any]:
        if self._context is None:
            raise RuntimeError("this task instance has no context yet")
        return self._context

    @property
    def is_mapped(self) -> bool:
        return self.map_index >= 0

    @property
    def operator(self) -> str:
        return type(self.task).__name__ if self.task is not None else ""

    @property
    def log_url(self) -> str:
        from urllib.parse import quote

        mapped = f"/mapped/{self.map_index}" if self.map_index >= 0 else ""
        return f"/dags/{self.dag_id}/runs/{quote(self.run_id, safe='')}/tasks/{self.task_id}{mapped}?try_number={self.try_number}"

    # -- XCom ------------------------------------------------------------------------
    def xcom_push(self, key: str, value: Any) -> None:
        """Store `value` (JSON-serializable) under `key` for this task instance."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"XCom key must be a non-empty string, got {key!r}")
        self._xcom.push(key, value)

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        dag_id: str | None = None,
        key: str = XCOM_RETURN_KEY,
        include_prior_dates: bool = False,
        *,
        map_indexes: int | Iterable[int] | None = NOTSET,
        default: Any = None,
        run_id: str | None = None,
    ) -> Any:
        """Pull XComs of this DAG run (see the module docstring for the shapes)."""
        self._check_scope(dag_id, run_id, include_prior_dates)
        single_task = isinstance(task_ids, (str, type(None)))
        if task_ids is None:
            ids = [self.task_id]
        elif isinstance(task_ids, str):
            ids = [task_ids]
        else:
            ids = list(task_ids)
            if not all(isinstance(t, str) for t in ids):
                raise TypeError(f"task_ids must be a str or an iterable of str, got {task_ids!r}")
        if map_indexes is NOTSET:
            values: list[Any] = []
            for task_id in ids:
                found = self._xcom.get_all(task_id, key)
                if found:
                    values.extend(found)
                else:
                    values.append(None)
            if single_task and len(values) == 1:
                return values[0]
            return values
        single_index = isinstance(map_indexes, (int, type(None)))
        if single_index:
            indexes: list[int | None] = [map_indexes]  # type: ignore[list-item]
        elif isinstance(map_indexes, Iterable) and not isinstance(map_indexes, (str, bytes)):
            indexes = list(map_indexes)
        else:
            indexes = [map_indexes]  # type: ignore[list-item]  # refused just below
        if not single_index and not all(isinstance(i, int) and not isinstance(i, bool) for i in indexes):
            raise TypeError(f"Invalid type for map_indexes: expected int, iterable of ints, or None, got {map_indexes!r}")
        pulled = []
        for task_id in ids:
            for index in indexes:
                found, value = self._xcom.get_one(task_id, key, index)
                pulled.append(value if found and value is not None else default)
        if single_task and single_index:
            return pulled[0]
        return pulled

    def _check_scope(self, dag_id: str | None, run_id: str | None, include_prior_dates: bool) -> None:
        if (dag_id is not None and dag_id != self.dag_id) or (run_id is not None and run_id != self.run_id):
            raise AirflowException(
                f"Leoflow tasks pull XComs only from their own DAG run ({self.dag_id}, {self.run_id}); "
                f"asked for dag_id={dag_id!r}, run_id={run_id!r}"
            )
        if include_prior_dates:
            raise AirflowException("xcom_pull(include_prior_dates=True) is not supported by Leoflow: a task reads only its own DAG run")

    def __repr__(self) -> str:
        mapped = f" [{self.map_index}]" if self.map_index >= 0 else ""
        return f"<TaskInstance: {self.dag_id}.{self.task_id} {self.run_id}{mapped} [{self.state}]>"
