"""A DAG's shape from its compiled DagSpec: the tree of task groups and tasks the
grid and graph views draw, and the task-to-task edges.

Children of a group are in topological order (Airflow's default grid ordering):
a child comes after the siblings it depends on — a group depends on a sibling when
one of its tasks has an upstream inside that sibling — and otherwise keeps the
order in which the DAG declared it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from leoflow_proto.dag.v1 import dag_pb2

from ..datamodels.ui.grid import GridNodeResponse
from ..datamodels.ui.structure import EdgeResponse, NodeResponse, StructureDataResponse

# The names Airflow shows for its decorated operators (their custom_operator_name).
DECORATED_OPERATOR_NAMES = {
    "_PythonDecoratedOperator": "@task",
    "_BranchPythonDecoratedOperator": "@task.branch",
    "_ShortCircuitDecoratedOperator": "@task.short_circuit",
    "_BashDecoratedOperator": "@task.bash",
}


def operator_display_name(operator_name: str) -> str | None:
    return DECORATED_OPERATOR_NAMES.get(operator_name, operator_name) or None


@dataclass
class TreeNode:
    id: str
    label: str
    is_group: bool
    operator: str | None = None
    is_mapped: bool = False
    tooltip: str | None = None
    children: list[TreeNode] = field(default_factory=list)
    # Task ids of this node (itself, or every task below the group).
    task_ids: set[str] = field(default_factory=set)


def _short_label(identifier: str, group_id: str) -> str:
    """A node's own name: its id without the "group_id." prefix Airflow adds."""
    prefix = f"{group_id}."
    return identifier[len(prefix) :] if group_id and identifier.startswith(prefix) else identifier


def _topological(children: list[TreeNode], upstreams: dict[str, list[str]]) -> list[TreeNode]:
    owner = {task_id: child.id for child in children for task_id in child.task_ids}
    depends_on = {
        child.id: {
            owner[up]
            for task_id in child.task_ids
            for up in upstreams.get(task_id, ())
            if up in owner and owner[up] != child.id
        }
        for child in children
    }
    ordered: list[TreeNode] = []
    placed: set[str] = set()
    pending = list(children)
    while pending:
        ready = [c for c in pending if depends_on[c.id] <= placed]
        if not ready:  # a cycle cannot be registered; keep declaration order regardless
            ready = pending[:1]
        for child in ready:
            ordered.append(child)
            placed.add(child.id)
        pending = [c for c in pending if c.id not in placed]
    return ordered


def dag_tree(spec: dag_pb2.DagSpec, task_ids: set[str] | None = None) -> list[TreeNode]:
    """The top-level nodes of the DAG (only `task_ids` and their groups, when given)."""
    groups = {g.group_id: g for g in spec.task_groups}
    nodes: dict[str, TreeNode] = {}
    top: list[TreeNode] = []

    def group_node(group_id: str) -> TreeNode:
        if group_id in nodes:
            return nodes[group_id]
        group = groups.get(group_id)
        parent = group.parent_group_id if group else ""
        node = TreeNode(
            id=group_id,
            label=(group.label if group and group.label else _short_label(group_id, parent)),
            is_group=True,
            tooltip=group.tooltip if group else "",
        )
        nodes[group_id] = node
        (group_node(parent).children if parent else top).append(node)
        return node

    for task in spec.tasks:
        if task_ids is not None and task.task_id not in task_ids:
            continue
        short = _short_label(task.task_id, task.task_group_id)
        node = TreeNode(
            id=task.task_id,
            label=task.display_name if task.display_name and task.display_name != task.task_id else short,
            is_group=False,
            operator=operator_display_name(task.operator_name),
            is_mapped=task.HasField("mapping"),
            task_ids={task.task_id},
        )
        (group_node(task.task_group_id).children if task.task_group_id else top).append(node)
        group_id = task.task_group_id
        while group_id:  # every enclosing group owns the task
            nodes[group_id].task_ids.add(task.task_id)
            group_id = groups[group_id].parent_group_id if group_id in groups else ""

    upstreams = {t.task_id: list(t.upstream_task_ids) for t in spec.tasks}

    def sort(level: list[TreeNode]) -> list[TreeNode]:
        for node in level:
            if node.is_group:
                node.children = sort(node.children)
        return _topological(level, upstreams)

    return sort(top)


def subset_task_ids(
    spec: dag_pb2.DagSpec, root: str, *, include_upstream: bool, include_downstream: bool, depth: int | None
) -> set[str]:
    """Airflow's partial_subset: the tasks matching `root` (a task or group id) plus,
    as asked, their upstream and/or downstream tasks up to `depth` hops."""
    upstream = {t.task_id: set(t.upstream_task_ids) for t in spec.tasks}
    downstream: dict[str, set[str]] = {t.task_id: set() for t in spec.tasks}
    for task_id, ups in upstream.items():
        for up in ups:
            downstream.setdefault(up, set()).add(task_id)
    roots = {t for t in upstream if t == root or t.startswith(f"{root}.")}
    selected = set(roots)
    for wanted, graph in ((include_upstream, upstream), (include_downstream, downstream)):
        if not wanted:
            continue
        frontier, hops = set(roots), 0
        while frontier and (depth is None or hops < depth):
            frontier = {n for task_id in frontier for n in graph.get(task_id, ())} - selected
            selected |= frontier
            hops += 1
    return selected


def _walk(nodes: Iterable[TreeNode]) -> Iterable[TreeNode]:
    for node in nodes:
        yield node
        yield from _walk(node.children)


def grid_nodes(tree: list[TreeNode]) -> list[GridNodeResponse]:
    def convert(node: TreeNode, parent_mapped: bool) -> GridNodeResponse:
        mapped = node.is_mapped or parent_mapped
        if not node.is_group:
            return GridNodeResponse(id=node.id, label=node.label, is_mapped=True if mapped else None)
        return GridNodeResponse(
            id=node.id,
            label=node.label,
            is_mapped=True if node.is_mapped else None,
            children=[convert(child, mapped) for child in node.children] or None,
        )

    return [convert(node, False) for node in tree]


def merge_grid_nodes(current: list[GridNodeResponse], other: list[GridNodeResponse]) -> None:
    """Add to `current` the nodes only `other` (an older version) has: the grid shows
    the union of the versions of the runs it shows, the latest version's layout first."""
    by_id = {node.id: node for node in current}
    for node in other:
        existing = by_id.get(node.id)
        if existing is None:
            current.append(node)
            by_id[node.id] = node
        elif existing.children is not None and node.children is not None:
            merge_grid_nodes(existing.children, node.children)


def structure_data(spec: dag_pb2.DagSpec, tree: list[TreeNode]) -> StructureDataResponse:
    def convert(node: TreeNode, parent_mapped: bool) -> NodeResponse:
        mapped = node.is_mapped or parent_mapped
        if not node.is_group:
            return NodeResponse(
                id=node.id, label=node.label, type="task", operator=node.operator, is_mapped=True if mapped else None
            )
        return NodeResponse(
            id=node.id,
            label=node.label,
            type="task",
            tooltip=node.tooltip or "",
            is_mapped=node.is_mapped,
            children=[convert(child, mapped) for child in node.children],
        )

    shown = {node.id for node in _walk(tree) if not node.is_group}
    edges = sorted(
        (up, task.task_id) for task in spec.tasks if task.task_id in shown for up in task.upstream_task_ids if up in shown
    )
    return StructureDataResponse(
        edges=[EdgeResponse(source_id=source, target_id=target) for source, target in edges],
        nodes=[convert(node, False) for node in tree],
    )
