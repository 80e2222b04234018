"""Label (Airflow's EdgeModifier): `a >> Label("why") >> b` draws a -> b.

Leoflow's DagSpec has no edge labels yet, so a Label only forwards the edge: it keeps the
nodes that pointed at it and connects them to whatever it is pointed at.
"""

from __future__ import annotations

from airflow._shim.node import DependencyMixin, connect


class Label(DependencyMixin):
    """A labelled edge between tasks (the label itself is not recorded)."""

    def __init__(self, label: str):
        self.label = label
        self._upstream: list[DependencyMixin] = []
        self._downstream: list[DependencyMixin] = []

    @property
    def roots(self) -> list:
        return []

    @property
    def leaves(self) -> list:
        return []

    def attach_upstream(self, node: DependencyMixin) -> None:
        self._upstream.append(node)
        for down in self._downstream:
            connect(node, down)

    def attach_downstream(self, node: DependencyMixin) -> None:
        self._downstream.append(node)
        for up in self._upstream:
            connect(up, node)

    def __repr__(self) -> str:
        return f"Label({self.label!r})"


EdgeModifier = Label
