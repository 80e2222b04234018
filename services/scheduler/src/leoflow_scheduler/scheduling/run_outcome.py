"""How a DagRun ends, from its task instances (Airflow's DagRun.update_state).

A run is finished only when no task instance is unfinished. Then it failed if
any leaf task instance (of a task with no downstream, every map index of a
mapped leaf; removed ones are ignored) is failed or upstream_failed, and
succeeded if every leaf is success or skipped.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from leoflow_common.states import TI_UNFINISHED, DagRunState
from leoflow_common.states import TaskInstanceState as TI

_FAILED = frozenset({TI.FAILED, TI.UPSTREAM_FAILED})


def run_outcome(
    states: Mapping[str, TI] | Iterable[tuple[str, TI]], leaves: Collection[str]
) -> DagRunState | None:
    """SUCCESS or FAILED once every task instance finished, else None. `states`
    maps task ids to states, or lists (task_id, state) per task instance."""
    pairs = list(states.items()) if isinstance(states, Mapping) else list(states)
    if any(state in TI_UNFINISHED for _, state in pairs):
        return None
    leaf_states = [s for task_id, s in pairs if task_id in leaves and s is not TI.REMOVED]
    if any(state in _FAILED for state in leaf_states):
        return DagRunState.FAILED
    return DagRunState.SUCCESS
