"""TaskFlow: `@task`, `@task.bash`, `@task.branch`, `@task.short_circuit`.

Calling a decorated function inside a DAG records an operator whose op_args/op_kwargs are
the call's arguments (literals and XComArgs) and returns its XComArg. Repeated calls get
Airflow's ids: name, name__1, name__2, ...
"""

from __future__ import annotations

import functools
import inspect
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from airflow._shim.mapping import (
    MAPPED,
    MappingRecord,
    check_expand_kwargs_value,
    finish_mapped,
    is_mappable,
    prevent_duplicates,
)
from airflow._shim.operators import (
    BashOperator,
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)
from airflow._shim.xcom_arg import PlainXComArg

# Names Airflow injects from the run's context when a task function asks for them.
KNOWN_CONTEXT_KEYS = frozenset({
    "conn", "dag", "dag_run", "data_interval_end", "data_interval_start", "ds", "ds_nodash",
    "exception", "expanded_ti_count", "inlet_events", "inlets", "logical_date", "macros",
    "map_index_template", "outlet_events", "outlets", "params", "prev_data_interval_end_success",
    "prev_data_interval_start_success", "prev_end_date_success", "prev_start_date_success",
    "reason", "run_id", "start_date", "task", "task_instance", "task_instance_key_str",
    "task_reschedule_count", "templates_dict", "test_mode", "ti", "triggering_asset_events",
    "try_number", "ts", "ts_nodash", "ts_nodash_with_tz", "var",
})


def get_unique_task_id(task_id: str, dag: Any, group: Any) -> str:
    """Airflow's rule: the first call keeps the id, later ones get `__<n>` (n = max used + 1)."""
    if dag is None:
        return task_id
    full_id = group.child_id(task_id) if group is not None else task_id
    if full_id not in dag.task_dict:
        return task_id
    prefix = re.escape(re.split(r"__\d+$", full_id)[0])
    used = [int(m.group(1)) for t in dag.task_dict if (m := re.fullmatch(rf"{prefix}__(\d+)", t))]
    core = re.split(r"__\d+$", task_id)[0]
    return f"{core}__{max(used, default=0) + 1}"


def _check_call(function: Callable, task_id: str, op_args: Any, op_kwargs: dict, partial: bool) -> None:
    """Fail now, naming the task, when the call cannot bind to the function's signature.

    Context keys (ti, ds, params, ...) are filled at run time, so they get a None default
    here; a plain parameter that only got a default to keep Python's ordering rule is
    still required.
    """
    signature = inspect.signature(function)
    positional_kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = []
    injected: set[str] = set()
    seen_default = False
    for p in signature.parameters.values():
        if p.name in KNOWN_CONTEXT_KEYS and p.default is p.empty:
            p = p.replace(default=None)
        elif p.kind in positional_kinds and p.default is p.empty and seen_default:
            p = p.replace(default=None)
            injected.add(p.name)
        if p.kind in positional_kinds and p.default is not p.empty:
            seen_default = True
        params.append(p)
    relaxed = signature.replace(parameters=params)
    try:
        bound = relaxed.bind_partial(*op_args, **op_kwargs) if partial else relaxed.bind(*op_args, **op_kwargs)
    except TypeError as err:
        raise TypeError(f"task '{task_id}': {err}") from None
    missing = sorted(injected - set(bound.arguments))
    if missing and not partial:
        raise TypeError(f"task '{task_id}': missing required argument(s): {', '.join(missing)}")


def _prepare(python_callable: Callable, task_id: str, op_args: Any, op_kwargs: Any, kwargs: dict) -> tuple:
    partial = kwargs.pop("_leoflow_mapped_validation_only", False)
    task_id = get_unique_task_id(task_id, kwargs.get("dag"), kwargs.get("task_group"))
    op_args = list(op_args or [])
    op_kwargs = dict(op_kwargs or {})
    # Airflow fills function parameters named in default_args (after positional ones).
    default_args = kwargs.get("default_args") or {}
    positional = list(inspect.signature(python_callable).parameters)[: len(op_args)]
    for name in inspect.signature(python_callable).parameters:
        if name not in op_kwargs and name not in positional and name in default_args:
            op_kwargs[name] = default_args[name]
    _check_call(python_callable, task_id, op_args, op_kwargs, partial)
    return task_id, op_args, op_kwargs


class _PythonDecoratedOperator(PythonOperator):
    custom_operator_name: ClassVar[str] = "@task"

    def __init__(self, *, python_callable: Callable, task_id: str, op_args: Any = None, op_kwargs: Any = None, **kwargs: Any):
        task_id, op_args, op_kwargs = _prepare(python_callable, task_id, op_args, op_kwargs, kwargs)
        super().__init__(python_callable=python_callable, task_id=task_id, op_args=op_args, op_kwargs=op_kwargs, **kwargs)


class _BranchPythonDecoratedOperator(BranchPythonOperator):
    custom_operator_name: ClassVar[str] = "@task.branch"

    def __init__(self, *, python_callable: Callable, task_id: str, op_args: Any = None, op_kwargs: Any = None, **kwargs: Any):
        task_id, op_args, op_kwargs = _prepare(python_callable, task_id, op_args, op_kwargs, kwargs)
        super().__init__(python_callable=python_callable, task_id=task_id, op_args=op_args, op_kwargs=op_kwargs, **kwargs)


class _ShortCircuitDecoratedOperator(ShortCircuitOperator):
    custom_operator_name: ClassVar[str] = "@task.short_circuit"

    def __init__(self, *, python_callable: Callable, task_id: str, op_args: Any = None, op_kwargs: Any = None, **kwargs: Any):
        task_id, op_args, op_kwargs = _prepare(python_callable, task_id, op_args, op_kwargs, kwargs)
        super().__init__(python_callable=python_callable, task_id=task_id, op_args=op_args, op_kwargs=op_kwargs, **kwargs)


class _BashDecoratedOperator(BashOperator):
    """`@task.bash`: the function runs first and returns the command to run."""

    custom_operator_name: ClassVar[str] = "@task.bash"
    template_fields = ("op_args", "op_kwargs", "bash_command", "env", "cwd")

    def __init__(self, *, python_callable: Callable, task_id: str, op_args: Any = None, op_kwargs: Any = None, **kwargs: Any):
        task_id, op_args, op_kwargs = _prepare(python_callable, task_id, op_args, op_kwargs, kwargs)
        kwargs.pop("multiple_outputs", None)
        self.python_callable = python_callable
        self.op_args = op_args
        self.op_kwargs = op_kwargs
        # The command is only known at run time, when the function returns it.
        super().__init__(bash_command="", task_id=task_id, **kwargs)


def _infer_multiple_outputs(function: Callable) -> bool:
    """Airflow: a return annotation that is a Mapping (dict, dict[str, int], ...) means True."""
    if "return" not in getattr(function, "__annotations__", {}):
        return False
    try:
        def fake(): ...
        fake.__annotations__ = {"return": function.__annotations__["return"]}
        return_type = typing.get_type_hints(fake, function.__globals__).get("return", Any)
    except (NameError, TypeError, AttributeError):
        return False
    origin = getattr(return_type, "__origin__", return_type)
    return isinstance(origin, type) and issubclass(origin, Mapping)


class _TaskDecorator:
    """A decorated task function: call it to add a task; `.partial/.expand` to map it."""

    def __init__(self, function: Callable, operator_class: type, multiple_outputs: bool | None,
                 kwargs: dict[str, Any], decorator_name: str):
        if "self" in inspect.signature(function).parameters:
            raise TypeError(f"@{decorator_name} does not support methods")
        self.function = function
        self.operator_class = operator_class
        self.multiple_outputs = _infer_multiple_outputs(function) if multiple_outputs is None else multiple_outputs
        self.kwargs = dict(kwargs)
        self.kwargs.setdefault("task_id", function.__name__)
        self.decorator_name = decorator_name
        functools.update_wrapper(self, function)

    def _evolve(self, kwargs: dict[str, Any]) -> _TaskDecorator:
        return _TaskDecorator(self.function, self.operator_class, self.multiple_outputs, kwargs, self.decorator_name)

    def _build(self, op_args: Any, op_kwargs: dict[str, Any], *, mapped: bool) -> Any:
        options = {k: v for k, v in self.kwargs.items() if k != "op_kwargs"}
        if mapped:
            options["_leoflow_mapped_validation_only"] = True
        operator = self.operator_class(
            python_callable=self.function, op_args=op_args, op_kwargs=op_kwargs,
            multiple_outputs=self.multiple_outputs, **options,
        )
        if self.function.__doc__ and not (operator.doc or operator.doc_md):
            operator.doc_md = inspect.cleandoc(self.function.__doc__)
        return operator

    def __call__(self, *args: Any, **kwargs: Any) -> PlainXComArg:
        return PlainXComArg(self._build(args, {**self.kwargs.get("op_kwargs", {}), **kwargs}, mapped=False))

    def override(self, **kwargs: Any) -> _TaskDecorator:
        return self._evolve({**self.kwargs, **kwargs})

    def partial(self, **kwargs: Any) -> _TaskDecorator:
        old = self.kwargs.get("op_kwargs", {})
        prevent_duplicates(old, kwargs, "duplicate partial")
        return self._evolve({**self.kwargs, "op_kwargs": {**old, **kwargs}})

    def expand(self, **map_kwargs: Any) -> PlainXComArg:
        if not map_kwargs:
            raise TypeError("no arguments to expand against")
        for name, value in map_kwargs.items():
            if name in KNOWN_CONTEXT_KEYS:
                raise ValueError(f"cannot call expand() on task context variable {name!r}")
            if not is_mappable(value):
                raise ValueError(f"expand() got an unexpected type {type(value).__name__!r} for keyword argument {name!r}")
        partial_kwargs = self.kwargs.get("op_kwargs", {})
        prevent_duplicates(partial_kwargs, map_kwargs, "mapping already partial")
        operator = self._build((), {**partial_kwargs, **{k: MAPPED for k in map_kwargs}}, mapped=True)
        return finish_mapped(operator, MappingRecord(expand=dict(map_kwargs)))

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> PlainXComArg:
        check_expand_kwargs_value(kwargs)
        operator = self._build((), dict(self.kwargs.get("op_kwargs", {})), mapped=True)
        return finish_mapped(operator, MappingRecord(expand_kwargs=kwargs))

    def __repr__(self) -> str:
        return f"<@{self.decorator_name} {self.function.__qualname__}>"


def _factory(operator_class: type, name: str, python_callable: Callable | None,
             multiple_outputs: bool | None, kwargs: dict[str, Any]) -> Any:
    def decorate(function: Callable) -> _TaskDecorator:
        return _TaskDecorator(function, operator_class, multiple_outputs, kwargs, name)

    if python_callable is not None:
        if not callable(python_callable):
            raise TypeError(f"@{name} expects a function, got {type(python_callable).__name__}")
        return decorate(python_callable)
    return decorate


_SUPPORTED = "@task, @task.python, @task.bash, @task.branch, @task.short_circuit"


class TaskDecoratorCollection:
    """The `task` object: `@task`, `@task(...)` and its `.bash/.branch/.short_circuit` flavours."""

    def __call__(self, python_callable: Callable | None = None, multiple_outputs: bool | None = None, **kwargs: Any) -> Any:
        return _factory(_PythonDecoratedOperator, "task", python_callable, multiple_outputs, kwargs)

    def python(self, python_callable: Callable | None = None, multiple_outputs: bool | None = None, **kwargs: Any) -> Any:
        return _factory(_PythonDecoratedOperator, "task", python_callable, multiple_outputs, kwargs)

    def branch(self, python_callable: Callable | None = None, multiple_outputs: bool | None = None, **kwargs: Any) -> Any:
        return _factory(_BranchPythonDecoratedOperator, "task.branch", python_callable, multiple_outputs, kwargs)

    def short_circuit(self, python_callable: Callable | None = None, multiple_outputs: bool | None = None, **kwargs: Any) -> Any:
        return _factory(_ShortCircuitDecoratedOperator, "task.short_circuit", python_callable, multiple_outputs, kwargs)

    def bash(self, python_callable: Callable | None = None, **kwargs: Any) -> Any:
        return _factory(_BashDecoratedOperator, "task.bash", python_callable, False, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise AttributeError(f"@task.{name} is not supported by Leoflow (supported: {_SUPPORTED})")


task = TaskDecoratorCollection()
