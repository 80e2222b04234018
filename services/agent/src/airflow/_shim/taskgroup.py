"""TaskGroup and @task_group: tasks created inside get ids prefixed "group_id.".

A group's default_args override the DAG's for its tasks, and a nested group inherits
its parent's. `group >> x` connects the group's leaves (tasks with no downstream inside
the group) at the moment the expression runs, as Airflow does.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

from airflow._shim import state
from airflow._shim.exceptions import DuplicateTaskIdFound
from airflow._shim.node import DependencyMixin, validate_group_key


class TaskGroup(DependencyMixin):
    """A named group of tasks (the root group of a DAG has group_id None)."""

    def __init__(
        self,
        group_id: str | None,
        prefix_group_id: bool = True,
        parent_group: TaskGroup | None = None,
        dag: Any = None,
        default_args: dict[str, Any] | None = None,
        tooltip: str = "",
        ui_color: str = "CornflowerBlue",
        ui_fgcolor: str = "#000",
        add_suffix_on_collision: bool = False,
        group_display_name: str = "",
        _root: bool = False,
    ):
        if not _root:
            validate_group_key(group_id)
        dag = dag or (parent_group.dag if parent_group else state.current_dag())
        if dag is None:
            raise RuntimeError("TaskGroup can only be used inside a dag")
        self.dag = dag
        self._group_id = group_id
        self.prefix_group_id = prefix_group_id
        self.tooltip = tooltip
        self.group_display_name = group_display_name
        self.children: dict[str, Any] = {}
        self.default_args: dict[str, Any] = dict(default_args or {})
        if _root:
            self.parent_group = None
            self.used_group_ids: set[str] = set()
            return
        self.parent_group = parent_group or state.current_group(dag)
        self.used_group_ids = self.parent_group.used_group_ids
        self._claim_group_id(add_suffix_on_collision)
        self.default_args = {**self.parent_group.default_args, **self.default_args}
        self.parent_group.children[self.group_id] = self

    @classmethod
    def create_root(cls, dag: Any) -> TaskGroup:
        return cls(None, dag=dag, _root=True)

    def _claim_group_id(self, add_suffix_on_collision: bool) -> None:
        if self.group_id in self.used_group_ids or self.group_id in self.dag.task_dict:
            if not add_suffix_on_collision:
                raise DuplicateTaskIdFound(f"group_id '{self._group_id}' has already been added to the DAG")
            base = re.split(r"__\d+$", self._group_id)[0]
            full_base = re.split(r"__\d+$", self.group_id)[0]
            suffixes = [
                int(used.rsplit("__", 1)[1])
                for used in self.used_group_ids
                if re.fullmatch(rf"{re.escape(full_base)}__\d+", used)
            ]
            self._group_id = f"{base}__{max(suffixes, default=0) + 1}"
        self.used_group_ids.add(self.group_id)

    @property
    def is_root(self) -> bool:
        return self._group_id is None

    @property
    def group_id(self) -> str | None:
        parent = self.parent_group
        if self._group_id and parent is not None and parent.prefix_group_id and parent._group_id:
            return parent.child_id(self._group_id)
        return self._group_id

    @property
    def label(self) -> str | None:
        return self.group_display_name or self._group_id

    def child_id(self, label: str) -> str:
        """The full id of a child task or group called `label`."""
        if self.prefix_group_id and self.group_id:
            return f"{self.group_id}.{label}"
        return label

    def iter_tasks(self):
        for child in self.children.values():
            if isinstance(child, TaskGroup):
                yield from child.iter_tasks()
            else:
                yield child

    @property
    def roots(self) -> list:
        ids = {t.task_id for t in self.iter_tasks()}
        return [t for t in self.iter_tasks() if not (t.upstream_task_ids & ids)]

    @property
    def leaves(self) -> list:
        ids = {t.task_id for t in self.iter_tasks()}
        return [t for t in self.iter_tasks() if not (t.downstream_task_ids & ids)]

    def __enter__(self) -> TaskGroup:
        state.push_group(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        state.pop_group()

    def __repr__(self) -> str:
        return f"<TaskGroup: {self.group_id}>"


def task_group(python_callable: Callable | None = None, **tg_kwargs: Any) -> Any:
    """`@task_group` / `@task_group(group_id=..., ...)`: calling the function builds a group."""

    def decorate(f: Callable) -> Callable:
        @functools.wraps(f)
        def factory(*args: Any, **kwargs: Any) -> Any:
            options = dict(tg_kwargs)
            group_id = options.pop("group_id", f.__name__)
            with TaskGroup(group_id, add_suffix_on_collision=True, **options) as group:
                if f.__doc__ and not group.tooltip:
                    group.tooltip = f.__doc__.strip()
                result = f(*args, **kwargs)
            # A returned task keeps `group() >> x` pointing at the task, as in Airflow.
            return result if isinstance(result, DependencyMixin) else group

        def unsupported_mapping(*_: Any, **__: Any) -> Any:
            raise NotImplementedError("mapped task groups (@task_group .partial/.expand) are not supported by Leoflow yet")

        factory.expand = unsupported_mapping  # type: ignore[attr-defined]
        factory.expand_kwargs = unsupported_mapping  # type: ignore[attr-defined]
        factory.partial = unsupported_mapping  # type: ignore[attr-defined]
        factory.override = lambda **kw: task_group(f, **{**tg_kwargs, **kw})  # type: ignore[attr-defined]
        return factory

    if python_callable is not None:
        return decorate(python_callable)
    return decorate
