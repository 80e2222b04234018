"""chain, chain_linear and cross_downstream, with Airflow's semantics.

chain(a, [b, c], [d, e], f): a >> b, a >> c, b >> d, c >> e, d >> f, e >> f (adjacent
lists are paired element by element and must have the same length).
chain_linear(a, [b, c], [d, e]): every element of a step points at every element of the next.
"""

from __future__ import annotations

from typing import Any

from airflow._shim.node import DependencyMixin


def chain(*elements: Any) -> None:
    """Airflow's chain(): pairwise edges between adjacent elements."""
    for up, down in zip(elements[:-1], elements[1:], strict=False):
        if isinstance(up, DependencyMixin):
            up.set_downstream(down)
            continue
        if isinstance(down, DependencyMixin):
            down.set_upstream(up)
            continue
        up_list, down_list = list(up), list(down)
        if len(up_list) != len(down_list):
            raise ValueError(
                f"Chain not supported for different length Iterable. Got {len(up_list)} and {len(down_list)}."
            )
        for u, d in zip(up_list, down_list, strict=True):
            u.set_downstream(d)


def chain_linear(*elements: Any) -> None:
    """Airflow's chain_linear(): all-to-all edges between adjacent steps."""
    if len(elements) < 2:
        raise ValueError("chain_linear() requires at least two tasks or lists of tasks")
    for up, down in zip(elements[:-1], elements[1:], strict=False):
        ups = [up] if isinstance(up, DependencyMixin) else list(up)
        for u in ups:
            u.set_downstream(down)


def cross_downstream(from_tasks: Any, to_tasks: Any) -> None:
    """Every task of `from_tasks` upstream of every task of `to_tasks`."""
    for task in from_tasks:
        task.set_downstream(to_tasks)
