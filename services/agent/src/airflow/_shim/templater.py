"""Jinja templating of template fields, with Airflow 3's rules.

The environment is the DAG's (Airflow's DAG.get_template_env):
- a sandboxed environment, or jinja2's NativeEnvironment when the task (or else
  the DAG) sets render_template_as_native_obj, so "{{ params.n }}" stays an int;
- `undefined` is the DAG's template_undefined, StrictUndefined by default: a
  misspelt name fails the task instead of rendering as "";
- templates load from the DAG file's folder plus template_searchpath, so
  bash_command="script.sh" (a field ending in one of the operator's template_ext)
  renders that file, and `{% include %}` works;
- the jinja2.ext.do extension, the DAG's user_defined_macros and
  user_defined_filters, and its jinja_environment_kwargs.

render_template walks strings, lists, tuples, sets and dicts; an XComArg is
resolved (never rendered again: upstream data is not a template), and an object
with its own template_fields has them rendered in place. jinja2 is imported only
when a string actually holds markup, since most tasks have none.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

_MARKERS = ("{{", "{%", "{#")


def has_markup(text: str) -> bool:
    return any(marker in text for marker in _MARKERS)


def _native(task: Any, dag: Any) -> bool:
    task_choice = getattr(task, "render_template_as_native_obj", None)
    if task_choice is not None:
        return bool(task_choice)
    return bool(getattr(dag, "render_template_as_native_obj", False))


def _search_path(dag: Any) -> list[str]:
    paths: list[str] = []
    fileloc = getattr(dag, "fileloc", None)
    if fileloc:
        paths.append(os.path.dirname(os.path.abspath(fileloc)))
    extra = getattr(dag, "template_searchpath", None)
    if isinstance(extra, str):
        extra = [extra]
    paths.extend(extra or [])
    return paths


def build_environment(dag: Any, task: Any = None) -> Any:
    """The Jinja environment for `task` of `dag` (either may be None)."""
    import jinja2
    import jinja2.nativetypes
    import jinja2.sandbox

    options: dict[str, Any] = {
        "loader": jinja2.FileSystemLoader(_search_path(dag)),
        "undefined": getattr(dag, "template_undefined", None) or jinja2.StrictUndefined,
        "extensions": ["jinja2.ext.do"],
        "cache_size": 0,
    }
    options.update(getattr(dag, "jinja_environment_kwargs", None) or {})
    if _native(task, dag):
        environment = jinja2.nativetypes.NativeEnvironment(**options)
    else:
        environment = _SandboxedEnvironment(**options)
    environment.globals.update(getattr(dag, "user_defined_macros", None) or {})
    environment.filters.update(getattr(dag, "user_defined_filters", None) or {})
    return environment


def _sandbox_class() -> type:
    import jinja2.sandbox

    class SandboxedEnvironment(jinja2.sandbox.SandboxedEnvironment):
        """Airflow's sandbox: attributes starting with one underscore stay reachable."""

        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            return not attr.startswith("__")

    return SandboxedEnvironment


class _LazySandbox:
    """Builds the sandbox class on first use (jinja2 is imported only then)."""

    _cls: type | None = None

    def __call__(self, **options: Any) -> Any:
        if self._cls is None:
            self._cls = _sandbox_class()
        return self._cls(**options)


_SandboxedEnvironment = _LazySandbox()


class Templater:
    """Renders values of one task against one context; the environment is built once."""

    def __init__(self, context: dict[str, Any], *, dag: Any = None, task: Any = None, template_ext: tuple[str, ...] = ()):
        self.context = context
        self.dag = dag if dag is not None else getattr(task, "dag", None)
        self.task = task
        self.template_ext = tuple(template_ext or getattr(task, "template_ext", ()) or ())
        self._environment: Any = None
        self._seen: set[int] = set()

    @property
    def environment(self) -> Any:
        if self._environment is None:
            self._environment = build_environment(self.dag, self.task)
        return self._environment

    def render_string(self, text: str) -> Any:
        """One string: a template file when it ends in template_ext, else inline markup."""
        if self.template_ext and text.endswith(self.template_ext):
            return self.environment.get_template(text).render(self.context)
        if not has_markup(text):
            return text
        return self.environment.from_string(text).render(self.context)

    def render(self, value: Any) -> Any:
        """`value` with every template inside rendered (XComArgs resolved)."""
        from airflow._shim.xcom_arg import XComArg

        if isinstance(value, str):
            return self.render_string(value)
        if isinstance(value, XComArg):
            return value.resolve(self.context)
        if isinstance(value, tuple):
            if hasattr(value, "_fields"):  # a namedtuple keeps its type
                return type(value)(*(self.render(v) for v in value))
            return tuple(self.render(v) for v in value)
        if isinstance(value, list):
            return [self.render(v) for v in value]
        if isinstance(value, dict):
            return {k: self.render(v) for k, v in value.items()}
        if isinstance(value, (set, frozenset)):
            return type(value)(self.render(v) for v in value)
        if _is_templated_object(value) and id(value) not in self._seen:
            self._seen.add(id(value))
            self.render_fields(value, value.template_fields)
        return value

    def render_fields(self, owner: Any, fields: Any, skip: Callable[[str], bool] = lambda name: False) -> None:
        """Render `owner`'s attributes named in `fields`, in place."""
        for name in fields:
            if skip(name) or not hasattr(owner, name):
                continue
            value = getattr(owner, name)
            if value:
                setattr(owner, name, self.render(value))


def _is_templated_object(value: Any) -> bool:
    from airflow._shim.baseoperator import BaseOperator

    fields = getattr(type(value), "template_fields", None)
    return bool(fields) and not isinstance(value, (BaseOperator, type))


def literal_mask(authored: Any) -> Any:
    """The mask (see render_by_mask) of an argument as the DAG file wrote it:
    false where it holds an XComArg, true for literals."""
    from airflow._shim.xcom_arg import XComArg

    if isinstance(authored, XComArg):
        return False
    if isinstance(authored, (list, tuple)):
        return [literal_mask(v) for v in authored]
    if isinstance(authored, dict):
        return {k: literal_mask(v) for k, v in authored.items()}
    return True


def render_by_mask(value: Any, mask: Any, templater: Templater) -> Any:
    """Render `value` where `mask` says it is the author's literal.

    The mask mirrors the compiled argument (dag.json's Value): true for a literal
    (render every string inside), false for an XCom reference (never rendered),
    a list or dict of masks for a list or dict holding both. A value whose shape
    does not match its mask is left as it is: nothing is rendered that cannot be
    shown to be the author's own text."""
    if mask is True:
        return templater.render(value)
    if isinstance(mask, list) and isinstance(value, list) and len(mask) == len(value):
        return [render_by_mask(v, m, templater) for v, m in zip(value, mask, strict=True)]
    if isinstance(mask, dict) and isinstance(value, dict):
        return {k: render_by_mask(v, mask.get(k, False), templater) for k, v in value.items()}
    return value
