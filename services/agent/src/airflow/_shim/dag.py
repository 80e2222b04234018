"""DAG and the @dag decorator, recording a DAG's settings and tasks.

A DAG here holds exactly what the author passed (nothing is scheduled): its tasks in
`task_dict` (insertion order), its root TaskGroup, and where it was created (file, line)
so compile errors can point at it. Defaults follow Airflow 3: schedule None, catchup
False, max_active_* left to the platform.
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Any

from airflow._shim import state, timezone
from airflow._shim.exceptions import DuplicateTaskIdFound, TaskNotFound
from airflow._shim.node import validate_key
from airflow._shim.params import NOTSET, DagParam, ParamsDict
from airflow._shim.schedule import validate_schedule

_UNSET: Any = NOTSET


class DAG:
    """A recorded DAG. Only `dag_id` may be positional, as in Airflow 3."""

    def __init__(
        self,
        dag_id: str,
        *,
        description: str | None = None,
        schedule: Any = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        default_args: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        max_active_tasks: int | None = None,
        max_active_runs: int | None = None,
        max_consecutive_failed_dag_runs: int | None = None,
        dagrun_timeout: timedelta | None = None,
        catchup: bool = False,
        on_success_callback: Callable | list[Callable] | None = None,
        on_failure_callback: Callable | list[Callable] | None = None,
        doc_md: str | None = None,
        is_paused_upon_creation: bool | None = None,
        render_template_as_native_obj: bool = False,
        tags: Collection[str] | None = None,
        owner_links: dict[str, str] | None = None,
        dag_display_name: str | None = None,
        template_searchpath: str | Collection[str] | None = None,
        template_undefined: Any = None,
        user_defined_macros: dict | None = None,
        user_defined_filters: dict | None = None,
        jinja_environment_kwargs: dict | None = None,
        access_control: dict | None = None,
        auto_register: bool = True,
        fail_fast: bool = False,
        deadline: Any = None,
        sla_miss_callback: Any = None,
        disable_bundle_versioning: bool = False,
    ):
        validate_key(dag_id, what="dag_id")
        validate_schedule(schedule)
        if default_args is not None and not isinstance(default_args, dict):
            raise TypeError(f"default_args of DAG '{dag_id}' must be a dict")
        if dagrun_timeout is not None and not isinstance(dagrun_timeout, timedelta):
            raise TypeError(f"dagrun_timeout of DAG '{dag_id}' must be a timedelta")
        self.dag_id = dag_id
        self.description = description
        self.schedule = schedule
        self.default_args: dict[str, Any] = copy.copy(default_args or {})
        self.start_date = start_date or self.default_args.get("start_date")
        self.end_date = end_date or self.default_args.get("end_date")
        if isinstance(self.start_date, str):
            self.start_date = timezone.parse(self.start_date)
        self.timezone = (self.start_date.tzinfo if self.start_date else None) or timezone.utc
        merged_params = dict(params or {})
        merged_params.update(self.default_args.pop("params", None) or {})
        self.params = ParamsDict(merged_params)
        self.max_active_tasks = max_active_tasks
        self.max_active_runs = max_active_runs
        self.max_consecutive_failed_dag_runs = max_consecutive_failed_dag_runs
        self.dagrun_timeout = dagrun_timeout
        self.catchup = bool(catchup)
        self.on_success_callback = on_success_callback
        self.on_failure_callback = on_failure_callback
        self.doc_md = doc_md
        self.is_paused_upon_creation = is_paused_upon_creation
        self.render_template_as_native_obj = bool(render_template_as_native_obj)
        self.tags = sorted(set(tags or []))
        self.owner_links = dict(owner_links or {})
        self.dag_display_name = dag_display_name or dag_id
        self.template_searchpath = template_searchpath
        # None: jinja2.StrictUndefined, Airflow's default (templater.build_environment).
        self.template_undefined = template_undefined
        self.user_defined_macros = user_defined_macros
        self.user_defined_filters = user_defined_filters
        self.jinja_environment_kwargs = jinja_environment_kwargs
        self.access_control = access_control
        self.fail_fast = fail_fast
        self.task_dict: dict[str, Any] = {}
        self.fileloc, self.lineno = state.caller_site()
        from airflow._shim.taskgroup import TaskGroup

        self.task_group = TaskGroup.create_root(self)
        state.register_dag(self)

    # -- context manager -------------------------------------------------------------
    def __enter__(self) -> DAG:
        state.push_dag(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        state.pop_dag()

    # -- tasks -----------------------------------------------------------------------
    def add_task(self, task: Any) -> None:
        """Add `task`; a second task with the same id is an error, as in Airflow."""
        if task.task_id in self.task_dict and self.task_dict[task.task_id] is not task:
            raise DuplicateTaskIdFound(f"Task id '{task.task_id}' has already been added to the DAG")
        self.task_dict[task.task_id] = task

    @property
    def tasks(self) -> list[Any]:
        return list(self.task_dict.values())

    @property
    def task_ids(self) -> list[str]:
        return list(self.task_dict)

    def has_task(self, task_id: str) -> bool:
        return task_id in self.task_dict

    def get_task(self, task_id: str) -> Any:
        if task_id not in self.task_dict:
            raise TaskNotFound(f"Task {task_id} not found")
        return self.task_dict[task_id]

    def param(self, name: str, default: Any = NOTSET) -> DagParam:
        return DagParam(current_dag=self, name=name, default=default)

    @property
    def owner(self) -> str:
        return ", ".join(sorted({t.owner for t in self.tasks}))

    @property
    def has_on_success_callback(self) -> bool:
        return self.on_success_callback is not None

    @property
    def has_on_failure_callback(self) -> bool:
        return self.on_failure_callback is not None

    def test(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError("dag.test() is not supported by Leoflow; use `leoflow lite`")

    def __repr__(self) -> str:
        return f"<DAG: {self.dag_id}>"


def dag(dag_id_or_func: Any = None, **decorator_kwargs: Any) -> Any:
    """`@dag` / `@dag(...)`: calling the decorated function builds the DAG.

    The function's arguments become DAG params (DagParam placeholders inside the body);
    its docstring becomes doc_md when none was given.
    """

    def wrapper(f: Callable) -> Callable[..., DAG]:
        if "dag_id" in decorator_kwargs:
            dag_id = decorator_kwargs.pop("dag_id")
        elif isinstance(dag_id_or_func, str) and dag_id_or_func.strip():
            dag_id = dag_id_or_func
        else:
            dag_id = f.__name__

        @functools.wraps(f)
        def factory(*args: Any, **kwargs: Any) -> DAG:
            bound = inspect.signature(f).bind(*args, **kwargs)
            bound.apply_defaults()
            with DAG(dag_id, **decorator_kwargs) as dag_obj:
                if f.__doc__ and not dag_obj.doc_md:
                    dag_obj.doc_md = inspect.cleandoc(f.__doc__)
                f_kwargs = {name: dag_obj.param(name, value) for name, value in bound.arguments.items()}
                f(**f_kwargs)
            return dag_obj

        factory.__leoflow_dag_factory__ = True  # type: ignore[attr-defined]
        return factory

    if callable(dag_id_or_func) and not isinstance(dag_id_or_func, str):
        return wrapper(dag_id_or_func)
    return wrapper
