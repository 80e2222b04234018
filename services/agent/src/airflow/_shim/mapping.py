"""Dynamic task mapping, recorded: `.partial(...).expand(...)` and `.expand_kwargs(...)`.

A mapped task is an ordinary operator whose mapped arguments hold the MAPPED marker and
whose `mapping` says what to expand over. Expanding is the scheduler's job in a later
release; recording the inputs faithfully (and their upstream edges) is this module's.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from airflow._shim.params import NOTSET
from airflow._shim.xcom_arg import PlainXComArg, XComArg


class _Mapped:
    """Placeholder for an argument whose value comes from the expansion (falsy on purpose:
    constructors doing `value or default` then record no literal for it)."""

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "<mapped>"


MAPPED: Any = _Mapped()


@dataclass
class MappingRecord:
    """What a mapped task expands over: `expand` kwargs, or one `expand_kwargs` value."""

    expand: dict[str, Any] = field(default_factory=dict)
    expand_kwargs: Any = NOTSET


def is_mappable(value: Any) -> bool:
    return isinstance(value, (list, tuple, dict, XComArg))


def check_expand_kwargs_value(value: Any) -> None:
    if isinstance(value, XComArg):
        return
    if isinstance(value, (list, tuple)) and all(isinstance(v, (dict, XComArg)) for v in value):
        return
    raise TypeError(f"expand_kwargs() expects an XComArg or a list of dicts, not {type(value).__name__}")


def prevent_duplicates(partial: dict[str, Any], mapped: dict[str, Any], reason: str) -> None:
    duplicates = sorted(set(partial) & set(mapped))
    if duplicates:
        raise TypeError(f"{reason}: {', '.join(duplicates)}")


def finish_mapped(operator: Any, record: MappingRecord) -> PlainXComArg:
    """Attach the mapping to a freshly built operator and draw its upstream edges."""
    operator.mapping = record
    XComArg.apply_upstream_relationship(operator, record.expand)
    if record.expand_kwargs is not NOTSET:
        XComArg.apply_upstream_relationship(operator, record.expand_kwargs)
    return PlainXComArg(operator)


class OperatorPartial:
    """`ClassicOperator.partial(task_id=..., ...)`: waits for `.expand` / `.expand_kwargs`."""

    def __init__(self, operator_class: type, kwargs: dict[str, Any]):
        if "task_id" not in kwargs:
            raise TypeError(f"{operator_class.__name__}.partial() requires task_id")
        self.operator_class = operator_class
        self.kwargs = kwargs

    def expand(self, **mapped: Any) -> PlainXComArg:
        if not mapped:
            raise TypeError("no arguments to expand against")
        for name, value in mapped.items():
            if not is_mappable(value):
                raise ValueError(f"expand() got an unexpected type {type(value).__name__!r} for keyword argument {name!r}")
        prevent_duplicates(self.kwargs, mapped, "mapping already partial")
        operator = self.operator_class(**self.kwargs, **{name: MAPPED for name in mapped})
        return finish_mapped(operator, MappingRecord(expand=dict(mapped)))

    def expand_kwargs(self, value: Any, *, strict: bool = True) -> PlainXComArg:
        check_expand_kwargs_value(value)
        required = _required_parameters(self.operator_class)
        fillers = {name: MAPPED for name in required if name not in self.kwargs}
        operator = self.operator_class(**self.kwargs, **fillers)
        return finish_mapped(operator, MappingRecord(expand_kwargs=value))


def _required_parameters(operator_class: type) -> set[str]:
    """Keyword parameters without a default anywhere in the class's __init__ chain."""
    required: set[str] = set()
    for klass in operator_class.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for name, param in inspect.signature(init).parameters.items():
            if name not in {"self", "task_id"} and param.default is param.empty and param.kind is param.KEYWORD_ONLY:
                required.add(name)
    return required
