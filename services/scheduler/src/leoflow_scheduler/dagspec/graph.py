"""The task graph of a DagSpec: upstream/downstream maps, a topological order,
leaves, and relatives. Built once per DAG version and shared (it is immutable)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from leoflow_proto.dag.v1 import dag_pb2


def find_cycle(upstream: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle in the graph as a closed path ["a", "b", "a"], or None.

    Edges point from a task to its upstream tasks; the path is returned in the
    direction of execution (upstream first). Unknown ids are ignored."""
    white, grey, black = 0, 1, 2
    color = {task: white for task in upstream}
    stack_path: list[str] = []

    for root in upstream:
        if color[root] != white:
            continue
        # Iterative DFS so deep chains never hit the recursion limit.
        frames: list[tuple[str, list[str]]] = [(root, list(upstream[root]))]
        color[root] = grey
        stack_path.append(root)
        while frames:
            node, pending = frames[-1]
            if not pending:
                frames.pop()
                stack_path.pop()
                color[node] = black
                continue
            nxt = pending.pop()
            if nxt not in color:
                continue
            if color[nxt] == grey:
                start = stack_path.index(nxt)
                cycle = stack_path[start:] + [nxt]
                return list(reversed(cycle))
            if color[nxt] == white:
                color[nxt] = grey
                stack_path.append(nxt)
                frames.append((nxt, list(upstream[nxt])))
    return None


@dataclass(frozen=True, slots=True)
class DagGraph:
    """Tasks in declaration order, with both edge directions and a topological order."""

    tasks: dict[str, dag_pb2.TaskSpec]
    upstream: dict[str, tuple[str, ...]]
    downstream: dict[str, tuple[str, ...]]
    order: tuple[str, ...]
    leaves: frozenset[str]

    def ancestors(self, task_id: str) -> set[str]:
        """Every task upstream of `task_id`, transitively."""
        return self._walk(task_id, self.upstream)

    def descendants(self, task_id: str) -> set[str]:
        """Every task downstream of `task_id`, transitively."""
        return self._walk(task_id, self.downstream)

    @staticmethod
    def _walk(task_id: str, edges: Mapping[str, tuple[str, ...]]) -> set[str]:
        seen: set[str] = set()
        pending = list(edges.get(task_id, ()))
        while pending:
            current = pending.pop()
            if current not in seen:
                seen.add(current)
                pending.extend(edges.get(current, ()))
        return seen


def build_graph(spec: dag_pb2.DagSpec) -> DagGraph:
    """The graph of a validated spec. ValueError if it has a cycle or unknown edges."""
    tasks = {task.task_id: task for task in spec.tasks}
    upstream: dict[str, tuple[str, ...]] = {}
    downstream: dict[str, list[str]] = {task_id: [] for task_id in tasks}
    for task_id, task in tasks.items():
        ups = tuple(dict.fromkeys(task.upstream_task_ids))
        for up in ups:
            if up not in tasks:
                raise ValueError(f"task {task_id!r} has unknown upstream task {up!r}")
            downstream[up].append(task_id)
        upstream[task_id] = ups
    cycle = find_cycle(upstream)
    if cycle:
        raise ValueError("cycle: " + " -> ".join(cycle))
    return DagGraph(
        tasks=tasks,
        upstream=upstream,
        downstream={k: tuple(v) for k, v in downstream.items()},
        order=_topological_order(tasks, upstream, downstream),
        leaves=frozenset(t for t, downs in downstream.items() if not downs),
    )


def _topological_order(tasks, upstream, downstream) -> tuple[str, ...]:
    # Kahn's algorithm, seeded in declaration order so the order is deterministic.
    remaining = {task_id: len(upstream[task_id]) for task_id in tasks}
    ready = [task_id for task_id in tasks if remaining[task_id] == 0]
    order: list[str] = []
    while ready:
        current = ready.pop(0)
        order.append(current)
        for down in downstream[current]:
            remaining[down] -= 1
            if remaining[down] == 0:
                ready.append(down)
    return tuple(order)
