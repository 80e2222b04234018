"""Dependency plumbing shared by operators, XComArgs, TaskGroups and Labels.

Every node exposes `roots` (the tasks an incoming edge lands on) and `leaves` (the tasks
an outgoing edge leaves from); `a >> b` adds an edge from each leaf of `a` to each root
of `b`, evaluated at the moment the expression runs, as Airflow does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

_KEY_RE = re.compile(r"^[\w.-]+$", re.ASCII)
_GROUP_KEY_RE = re.compile(r"^[\w-]+$", re.ASCII)
KEY_MAX_LENGTH = 250


def validate_key(key: Any, *, what: str = "id") -> None:
    """Airflow's rule for dag and task ids: ASCII letters, digits, '_', '-', '.', at most 250."""
    if not isinstance(key, str):
        raise TypeError(f"The {what} must be a string, got {type(key).__name__}")
    if len(key) > KEY_MAX_LENGTH:
        raise ValueError(f"The {what} '{key}' is longer than {KEY_MAX_LENGTH} characters")
    if not _KEY_RE.match(key):
        raise ValueError(
            f"The {what} '{key}' must be made of alphanumeric characters, dashes, dots and underscores"
        )


def validate_group_key(key: Any) -> None:
    """Group ids are keys without dots (dots separate group prefixes)."""
    if not isinstance(key, str):
        raise TypeError(f"The group_id must be a string, got {type(key).__name__}")
    if not _GROUP_KEY_RE.match(key):
        raise ValueError(
            f"The group_id '{key}' must be made of alphanumeric characters, dashes and underscores"
        )


def flatten_nodes(value: Any) -> list[Any]:
    """A node or a (nested) list/tuple/set of nodes, as a flat list."""
    if isinstance(value, DependencyMixin):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, (str, bytes, dict)):
        flat: list[Any] = []
        for item in value:
            flat.extend(flatten_nodes(item))
        return flat
    raise TypeError(
        f"Relationships can only be set between operators, XComArgs, TaskGroups and Labels; "
        f"got {type(value).__name__}"
    )


class DependencyMixin:
    """`>>`, `<<` and set_upstream/set_downstream for anything that can hold an edge."""

    @property
    def roots(self) -> list:
        raise NotImplementedError

    @property
    def leaves(self) -> list:
        raise NotImplementedError

    def set_upstream(self, other: Any, edge_modifier: Any = None) -> None:
        for node in flatten_nodes(other):
            connect(node, self)

    def set_downstream(self, other: Any, edge_modifier: Any = None) -> None:
        for node in flatten_nodes(other):
            connect(self, node)

    def update_relative(self, other: Any, upstream: bool = True, edge_modifier: Any = None) -> None:
        """Hook for nodes that track relatives themselves (Labels); operators need none."""

    def __rshift__(self, other):
        self.set_downstream(other)
        return other

    def __lshift__(self, other):
        self.set_upstream(other)
        return other

    def __rrshift__(self, other):
        # [a, b] >> self
        self.set_upstream(other)
        return self

    def __rlshift__(self, other):
        # [a, b] << self
        self.set_downstream(other)
        return self


def connect(upstream: DependencyMixin, downstream: DependencyMixin) -> None:
    """Add edges from every leaf of `upstream` to every root of `downstream`."""
    from airflow._shim.edges import Label

    if isinstance(downstream, Label):
        downstream.attach_upstream(upstream)
        return
    if isinstance(upstream, Label):
        upstream.attach_downstream(downstream)
        return
    for leaf in upstream.leaves:
        for root in downstream.roots:
            leaf.add_downstream_task(root)


def as_sequence(value: Any) -> Sequence:
    return value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
