"""Authoring state: the DAG and TaskGroup a new task joins, and the DAGs a file created.

Invariants: `with DAG(...)`, `with TaskGroup(...)` and the bodies of @dag/@task_group
functions push on enter and pop on exit, so the top of each stack is the innermost open
block. Every DAG constructed while a `collecting()` block is open is appended to that
block's list, in creation order: that list, not module globals, is what the loader reads
(Airflow's auto-registration of `with DAG(...)` blocks, applied to every DAG).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow._shim.dag import DAG
    from airflow._shim.taskgroup import TaskGroup

_dag_stack: list[DAG] = []
_group_stack: list[TaskGroup] = []
_collectors: list[list[DAG]] = []

# Frames from these directories are shim internals, never the author's code.
_SHIM_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_INTERNAL_PREFIXES = (_SHIM_ROOT + os.sep,)


def push_dag(dag: DAG) -> None:
    _dag_stack.append(dag)


def pop_dag() -> None:
    _dag_stack.pop()


def current_dag() -> DAG | None:
    """The DAG of the innermost open `with DAG(...)` / @dag body, if any."""
    return _dag_stack[-1] if _dag_stack else None


def push_group(group: TaskGroup) -> None:
    _group_stack.append(group)


def pop_group() -> None:
    _group_stack.pop()


def current_group(dag: DAG | None) -> TaskGroup | None:
    """The innermost open TaskGroup of `dag`, else the DAG's root group."""
    if dag is None:
        return None
    for group in reversed(_group_stack):
        if group.dag is dag:
            return group
    return dag.task_group


def register_dag(dag: DAG) -> None:
    """Record a newly constructed DAG in every open collector."""
    for collected in _collectors:
        collected.append(dag)


@contextlib.contextmanager
def collecting() -> Iterator[list[DAG]]:
    """Collect the DAGs constructed inside the block; resets any stale open blocks."""
    _dag_stack.clear()
    _group_stack.clear()
    collected: list[DAG] = []
    _collectors.append(collected)
    try:
        yield collected
    finally:
        _collectors.remove(collected)
        _dag_stack.clear()
        _group_stack.clear()


def caller_site() -> tuple[str, int]:
    """(file, line) of the innermost frame outside the shim: where the author wrote the call."""
    frame: Any = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_INTERNAL_PREFIXES) and not frame.f_code.co_filename.startswith("<"):
            return filename, frame.f_lineno
        frame = frame.f_back
    return "", 0
