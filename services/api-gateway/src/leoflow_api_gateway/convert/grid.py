"""Task instances of a run -> the grid's per-node summaries (one NDJSON line per run).

Each task gets its state; a mapped task and a task group get the counts of their
instances' states (`child_states`) and the state that wins by Airflow's priority
(failed before running before success ...), plus the earliest start and latest end.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from leoflow_proto.scheduler.v1 import models_pb2

from ..datamodels.ui.grid import GridTISummaries, LightGridTaskInstanceSummary
from .common import ts
from .structure import TreeNode
from .task_instances import ti_state

# Airflow's state_priority: the first present is the aggregate state.
STATE_PRIORITY: tuple[str | None, ...] = (
    "failed",
    "upstream_failed",
    "up_for_retry",
    "up_for_reschedule",
    "queued",
    "scheduled",
    "deferred",
    "running",
    "restarting",
    None,
    "success",
    "skipped",
    "removed",
)


@dataclass
class Summary:
    states: Counter = field(default_factory=Counter)
    min_start: datetime | None = None
    max_end: datetime | None = None
    version: int | None = None

    def add(self, state: str | None, start: datetime | None, end: datetime | None, version: int | None) -> None:
        self.states[state] += 1
        self._widen(start, end, version)

    def merge(self, other: Summary) -> None:
        self.states.update(other.states)
        self._widen(other.min_start, other.max_end, other.version)

    def _widen(self, start: datetime | None, end: datetime | None, version: int | None) -> None:
        if start is not None and (self.min_start is None or start < self.min_start):
            self.min_start = start
        if end is not None and (self.max_end is None or end > self.max_end):
            self.max_end = end
        if version is not None and (self.version is None or version > self.version):
            self.version = version

    def state(self) -> str | None:
        return next((s for s in STATE_PRIORITY if s in self.states), None)

    def child_states(self) -> dict[str, int]:
        return {("none" if s is None else s): n for s, n in self.states.items()}


def _line(task_id: str, name: str, summary: Summary, *, with_children: bool) -> LightGridTaskInstanceSummary:
    return LightGridTaskInstanceSummary(
        task_id=task_id,
        task_display_name=name,
        state=summary.state(),
        child_states=summary.child_states() if with_children else None,
        min_start_date=summary.min_start,
        max_end_date=summary.max_end,
        dag_version_number=summary.version,
    )


def ti_summaries(
    dag_id: str, run_id: str, tree: list[TreeNode], task_instances: Iterable[models_pb2.TaskInstance]
) -> GridTISummaries | None:
    """The run's line of the grid; None when the run has no task instances yet."""
    by_task: dict[str, Summary] = {}
    names: dict[str, str] = {}
    for ti in task_instances:
        version = ti.dag_version.version_number if ti.HasField("dag_version") else None
        by_task.setdefault(ti.task_id, Summary()).add(ti_state(ti.state), ts(ti, "start_date"), ts(ti, "end_date"), version)
        names[ti.task_id] = ti.task_display_name or ti.task_id
    if not by_task:
        return None
    lines: list[LightGridTaskInstanceSummary] = []
    placed: set[str] = set()

    def visit(node: TreeNode) -> Summary:
        if not node.is_group:
            summary = by_task.get(node.id, Summary())
            if node.is_mapped and not summary.states:
                summary.add(None, None, None, None)  # a mapped task not expanded yet: one empty square
            lines.append(_line(node.id, names.get(node.id, node.id), summary, with_children=node.is_mapped))
            placed.add(node.id)
            return summary
        total = Summary()
        for child in node.children:
            total.merge(visit(child))
        lines.append(_line(node.id, node.id, total, with_children=True))
        return total

    for node in tree:
        visit(node)
    # Task instances of tasks the version's tree does not show (a changed DAG): still listed.
    for task_id in sorted(set(by_task) - placed):
        lines.append(_line(task_id, names[task_id], by_task[task_id], with_children=False))
    return GridTISummaries(run_id=run_id, dag_id=dag_id, task_instances=lines)
