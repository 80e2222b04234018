"""The runner's work, by frame type, on a task loaded from the DAG file (child side).

    run           Python tasks: apply the mapped arguments, render the template
                  fields (op_args / op_kwargs / templates_dict, or a custom
                  operator's own), call the callable, render map_index_template
    render        bash tasks: the same for bash_command / env / cwd (and the
                  @task.bash function that returns the command); the agent runs it
    callback      a task callback (on_success / on_failure / on_retry / on_skipped)
    dag_callback  a DAG callback (on_success_callback / on_failure_callback)

Arguments arrive resolved (XCom values in place). Airflow renders what the DAG's
author wrote, never upstream data, so the authored arguments (literals and
XComArgs, from the loaded task) say which parts are rendered (templater.py).
Mapped arguments: a TaskFlow task's are function arguments; a classic operator's
are constructor arguments, set on the operator before rendering.
"""

from __future__ import annotations

import importlib
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from airflow._shim.mapping import MAPPED
from airflow._shim.params import NOTSET
from airflow._shim.templater import Templater, literal_mask, render_by_mask
from airflow._shim.xcom_arg import XComArg

from .rendered_fields import serialize_field, serialize_fields

_ARGUMENT_FIELDS = ("op_args", "op_kwargs")


@dataclass
class PreparedCall:
    """A callable with its final arguments, and what rendering produced."""

    func: Callable[..., Any]
    args: list[Any]
    kwargs: dict[str, Any]
    rendered_fields: dict[str, Any] = field(default_factory=dict)


def is_taskflow(task: Any) -> bool:
    """@task-style operators take mapped values as function arguments."""
    return str(getattr(task, "custom_operator_name", "") or "").startswith("@task")


def upstream_mapped_names(task: Any, names: Any) -> set[str]:
    """Which of the mapped argument `names` got their value from an XCom."""
    record = getattr(task, "mapping", None)
    if record is None:
        return set()
    if record.expand_kwargs is not NOTSET and _holds_xcom(record.expand_kwargs):
        return set(names)
    return {name for name in names if _holds_xcom(record.expand.get(name))}


def _holds_xcom(value: Any) -> bool:
    return bool(list(XComArg.iter_xcom_references(value)))


def _arguments(task: Any, message: dict[str, Any]) -> tuple[list, dict, list, dict]:
    """(args, kwargs, their masks) with the mapped values applied.

    Masks (templater.render_by_mask) say which parts are the author's literals.
    The agent sends them from dag.json, which produced the resolved values; a
    frame without them (a runner driven directly) takes them from the DAG file."""
    args = list(message.get("args") or [])
    kwargs = dict(message.get("kwargs") or {})
    mapped = dict(message.get("mapped") or {})
    masks = message.get("masks")
    if isinstance(masks, dict):
        arg_masks = list(masks.get("args") or [])
        kwarg_masks = dict(masks.get("kwargs") or {})
        mapped_masks = dict(masks.get("mapped") or {})
    else:
        arg_masks = [literal_mask(v) for v in getattr(task, "op_args", None) or []]
        kwarg_masks = {k: literal_mask(v) for k, v in (getattr(task, "op_kwargs", None) or {}).items() if v is not MAPPED}
        upstream = upstream_mapped_names(task, mapped)
        mapped_masks = {name: name not in upstream for name in mapped}
    for name, value in mapped.items():
        literal = mapped_masks.get(name, False)
        if is_taskflow(task):
            kwargs[name] = value
            kwarg_masks[name] = literal
        elif name == "op_args":
            args = list(value or [])
            arg_masks = [literal] * len(args)
        elif name == "op_kwargs":
            kwargs.update(value or {})
            kwarg_masks.update({k: literal for k in value or {}})
        else:
            setattr(task, name, value)
    return args, kwargs, arg_masks, kwarg_masks


def _render_arguments(task: Any, message: dict[str, Any], templater: Templater) -> tuple[list, dict]:
    """The call's arguments, rendered where the author wrote literals."""
    args, kwargs, arg_masks, kwarg_masks = _arguments(task, message)
    fields = set(task.template_fields)
    if "op_args" in fields:
        args = [render_by_mask(v, arg_masks[i] if i < len(arg_masks) else False, templater) for i, v in enumerate(args)]
    if "op_kwargs" in fields:
        kwargs = {name: render_by_mask(value, kwarg_masks.get(name, False), templater) for name, value in kwargs.items()}
    return args, kwargs


def _classic_mapped_from_upstream(task: Any, message: dict[str, Any]) -> set[str]:
    """A classic operator's mapped attributes whose values came from an XCom."""
    mapped = message.get("mapped") or {}
    if is_taskflow(task):
        return set()
    masks = message.get("masks")
    if isinstance(masks, dict):
        mapped_masks = masks.get("mapped") or {}
        return {name for name in mapped if mapped_masks.get(name) is not True}
    return upstream_mapped_names(task, mapped)


def prepare_python(task: Any, message: dict[str, Any], context: dict[str, Any]) -> PreparedCall:
    """The call a Python-kind task makes, its template fields rendered."""
    templater = Templater(context, task=task)
    if getattr(task, "leoflow_kind", "") == "custom":
        for name, value in (message.get("mapped") or {}).items():
            setattr(task, name, value)
        skip = _classic_mapped_from_upstream(task, message)
        templater.render_fields(task, task.template_fields, skip=lambda name: name in skip)

        def execute(**_: Any) -> Any:
            return task.execute(context)

        execute.__qualname__ = f"{type(task).__qualname__}.execute"
        return PreparedCall(execute, [], {}, serialize_fields(task, task.template_fields))
    if not callable(getattr(task, "python_callable", None)):
        raise TypeError(f"task '{task.task_id}' is a {type(task).__name__}: it runs no Python callable")
    args, kwargs = _render_arguments(task, message, templater)
    templates_dict = getattr(task, "templates_dict", None)
    if "templates_dict" in task.template_fields and templates_dict:
        templates_dict = templater.render(templates_dict)
    context["templates_dict"] = templates_dict
    values = {"templates_dict": templates_dict, "op_args": args, "op_kwargs": kwargs}
    rendered = {name: serialize_field(values.get(name, getattr(task, name, None))) for name in task.template_fields}
    return PreparedCall(task.python_callable, args, kwargs, rendered)


def render_bash(
    task: Any,
    message: dict[str, Any],
    context: dict[str, Any],
    call: Callable[[PreparedCall], Any],
    before_execute: Callable[[], None] = lambda: None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """({bash_command, env, cwd}, rendered fields) of a bash task; `call` runs a
    @task.bash function (with Airflow's context injection) to get its command;
    `before_execute` runs where Airflow's execute() would begin."""
    templater = Templater(context, task=task)
    skip = set(_ARGUMENT_FIELDS) | _classic_mapped_from_upstream(task, message)
    # The compiled command (dag.json) is the record; mapped values then override it.
    for name, value in (message.get("bash") or {}).items():
        setattr(task, name, value)
    if callable(getattr(task, "python_callable", None)):
        args, kwargs = _render_arguments(task, message, templater)
        task.op_args, task.op_kwargs = args, kwargs
        before_execute()
        command = call(PreparedCall(task.python_callable, args, kwargs))
        if not isinstance(command, str) or not command.strip():
            raise TypeError("The returned value from the TaskFlow callable must be a non-empty string.")
        task.bash_command = command
    else:
        _arguments(task, message)  # classic mapped arguments become attributes
    templater.render_fields(task, task.template_fields, skip=lambda name: name in skip)
    if not callable(getattr(task, "python_callable", None)):
        before_execute()
    env = task.env
    if env is not None and not (isinstance(env, dict) and all(isinstance(k, str) for k in env)):
        raise TypeError(f"env must be a dict of strings, got {type(env).__name__}")
    value = {
        "bash_command": task.bash_command if isinstance(task.bash_command, str) else str(task.bash_command),
        "env": None if env is None else {k: str(v) for k, v in env.items()},
        "cwd": None if task.cwd is None else str(task.cwd),
    }
    return value, serialize_fields(task, task.template_fields)


def render_map_index(context: dict[str, Any], templater: Templater) -> str | None:
    """A mapped instance's label from map_index_template (None when there is none)."""
    template = context.get("map_index_template")
    ti = context.get("ti")
    if not template or ti is None or ti.map_index < 0:
        return None
    return str(templater.environment.from_string(template).render(context))


# -- callbacks -------------------------------------------------------------------------


def rebuild_exception(info: dict[str, Any] | None) -> BaseException | None:
    """The failure as an exception object for context["exception"].

    The exception was raised in another process (or by the agent: a timeout, a
    rejected XCom), so it is rebuilt from its type and message: the original
    class when it can be imported, else a class of the same name."""
    if not info:
        return None
    name = str(info.get("exc_type") or "Exception")
    message = str(info.get("message") or "")
    cls: Any = None
    module_name = info.get("exc_module")
    if module_name:
        try:
            cls = importlib.import_module(module_name)
            for part in name.split("."):
                cls = getattr(cls, part)
        except (ImportError, AttributeError):
            cls = None
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        cls = type(name.rsplit(".", 1)[-1], (Exception,), {"__module__": module_name or "builtins"})
    args = info.get("exc_args")
    try:
        exception = cls(*args) if isinstance(args, list) else cls(message)
    except Exception:  # a constructor that wants other arguments
        exception = Exception(message)
    if info.get("traceback"):
        exception.__notes__ = [str(info["traceback"]).rstrip()]
    return exception


def callbacks_of(owner: Any, kind: str) -> list[Callable[..., Any]]:
    callbacks = getattr(owner, kind, None) or []
    return list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks]


def run_callbacks(callbacks: list[Callable[..., Any]], kind: str, context: dict[str, Any]) -> dict[str, Any]:
    """Call each callback with the context; a failing one is logged, the others still run."""
    failures: list[str] = []
    for index, callback in enumerate(callbacks):
        try:
            callback(context)
        except Exception as exc:  # Airflow logs a failing callback and carries on
            print(f"Failed to run {kind}[{index}] ({getattr(callback, '__qualname__', callback)!r}):", file=sys.stderr)
            traceback.print_exc()
            failures.append(f"{type(exc).__name__}: {exc}")
    return {"callbacks": len(callbacks), "failed": failures}
