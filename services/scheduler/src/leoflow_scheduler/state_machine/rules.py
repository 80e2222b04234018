"""What a transition rule is: a name, the states it may start from, and the one
state it leads to. Rules are data; the families live in `task_rules` and
`run_rules`."""

from __future__ import annotations

from dataclasses import dataclass

from leoflow_common.states import DagRunState, TaskInstanceState


@dataclass(frozen=True, slots=True)
class TaskRule:
    """A named task-instance transition FROM_STATES -> TO_STATE."""

    name: str
    from_states: frozenset[TaskInstanceState]
    to_state: TaskInstanceState

    def allows(self, state: TaskInstanceState) -> bool:
        return state in self.from_states

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class RunRule:
    """A named DagRun transition FROM_STATES -> TO_STATE."""

    name: str
    from_states: frozenset[DagRunState]
    to_state: DagRunState

    def allows(self, state: DagRunState) -> bool:
        return state in self.from_states

    def __str__(self) -> str:
        return self.name
