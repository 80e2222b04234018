"""Which ready task instances may be queued now: Airflow's critical section
(SchedulerJobRunner._executable_task_instances_to_queued) as a pure function.

Candidates are taken in priority order (priority_weight descending, then
map_index); each is admitted unless:
- its pool does not exist (it waits until the pool is created),
- its pool has no open slot, or fewer open slots than its pool_slots, or fewer
  slots in total than its pool_slots (it can never run),
- its run already has max_active_tasks queued or running task instances
  (Airflow 3 counts max_active_tasks per DAG run),
- its task already has max_active_tis_per_dag queued, running or deferred
  instances across the DAG's runs.
An admitted candidate takes its slots, so later ones see them taken. A held
candidate does not stop lower-priority ones that still fit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class HoldReason(StrEnum):
    """Why a ready task instance waits in `scheduled`."""

    NO_SUCH_POOL = "no_such_pool"
    POOL_FULL = "pool_full"
    POOL_TOO_SMALL = "pool_too_small"
    MAX_ACTIVE_TASKS = "max_active_tasks"
    MAX_ACTIVE_TIS_PER_DAG = "max_active_tis_per_dag"
    CONTENDED = "contended"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A ready task instance."""

    key: Any
    task_id: str
    pool: str
    pool_slots: int = 1
    priority_weight: int = 1
    map_index: int = -1


@dataclass
class Budget:
    """What is free now. Pools absent from `pool_open` do not exist (or could
    not be locked: listed in `contended_pools`); math.inf is unlimited."""

    run_slots: int
    pool_open: dict[str, float] = field(default_factory=dict)
    pool_total: dict[str, float] = field(default_factory=dict)
    task_slots: dict[str, float] = field(default_factory=dict)
    contended_pools: set[str] = field(default_factory=set)
    contended_tasks: set[str] = field(default_factory=set)


def priority_order(candidates: Iterable[Candidate]) -> list[Candidate]:
    return sorted(candidates, key=lambda c: (-c.priority_weight, c.map_index))


def admit(
    candidates: Iterable[Candidate], budget: Budget
) -> tuple[list[Candidate], dict[Any, HoldReason]]:
    """(admitted in order, {key: reason} of those held). `budget` is consumed."""
    admitted: list[Candidate] = []
    held: dict[Any, HoldReason] = {}
    for c in priority_order(candidates):
        if c.pool in budget.contended_pools or c.task_id in budget.contended_tasks:
            held[c.key] = HoldReason.CONTENDED
            continue
        if c.pool not in budget.pool_open:
            held[c.key] = HoldReason.NO_SUCH_POOL
            continue
        open_slots = budget.pool_open[c.pool]
        if c.pool_slots > budget.pool_total[c.pool]:
            held[c.key] = HoldReason.POOL_TOO_SMALL
            continue
        if open_slots <= 0 or c.pool_slots > open_slots:
            held[c.key] = HoldReason.POOL_FULL
            continue
        if budget.run_slots <= 0:
            held[c.key] = HoldReason.MAX_ACTIVE_TASKS
            continue
        if budget.task_slots.get(c.task_id, math.inf) <= 0:
            held[c.key] = HoldReason.MAX_ACTIVE_TIS_PER_DAG
            continue
        budget.pool_open[c.pool] = open_slots - c.pool_slots
        budget.run_slots -= 1
        if c.task_id in budget.task_slots:
            budget.task_slots[c.task_id] -= 1
        admitted.append(c)
    return admitted, held
