"""Trigger rules as a table of pure functions: upstream state counts -> decision.

This mirrors Airflow's TriggerRuleDep with flag_upstream_failed (the scheduler's
mode): a task whose rule can no longer be met is marked at once, without waiting
for its other upstreams (for all_success: any failed/upstream_failed upstream ->
upstream_failed, else any skipped upstream -> skipped). A rule that is met makes
the task ready; otherwise it waits. Only finished upstreams are counted; a task
with no upstream is always ready.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from leoflow_common.states import TaskInstanceState as TI
from leoflow_common.states import TriggerRule as TR


class Decision(StrEnum):
    """What happens to a waiting task."""

    WAIT = "wait"
    READY = "ready"
    SKIP = "skip"
    UPSTREAM_FAILED = "upstream_failed"


@dataclass(frozen=True, slots=True)
class UpstreamCounts:
    """How many direct upstream task instances are in each finished state."""

    total: int
    success: int = 0
    skipped: int = 0
    failed: int = 0
    upstream_failed: int = 0
    removed: int = 0

    @property
    def done(self) -> int:
        return self.success + self.skipped + self.failed + self.upstream_failed + self.removed

    @property
    def all_done(self) -> bool:
        return self.done >= self.total

    @classmethod
    def of(cls, states: Iterable[TI]) -> UpstreamCounts:
        states = list(states)
        return cls(
            total=len(states),
            success=states.count(TI.SUCCESS),
            skipped=states.count(TI.SKIPPED),
            failed=states.count(TI.FAILED),
            upstream_failed=states.count(TI.UPSTREAM_FAILED),
            removed=states.count(TI.REMOVED),
        )


def _all_success(c: UpstreamCounts) -> Decision:
    if c.failed or c.upstream_failed:
        return Decision.UPSTREAM_FAILED
    if c.skipped:
        return Decision.SKIP
    return Decision.READY if c.success >= c.total else Decision.WAIT


def _all_failed(c: UpstreamCounts) -> Decision:
    if c.success or c.skipped:
        return Decision.SKIP
    return Decision.READY if c.failed + c.upstream_failed >= c.total else Decision.WAIT


def _all_done(c: UpstreamCounts) -> Decision:
    return Decision.READY if c.all_done else Decision.WAIT


def _all_done_min_one_success(c: UpstreamCounts) -> Decision:
    if c.skipped:
        return Decision.SKIP
    if c.all_done:
        return Decision.READY if c.success else Decision.UPSTREAM_FAILED
    return Decision.WAIT


def _all_skipped(c: UpstreamCounts) -> Decision:
    if c.success or c.failed or c.upstream_failed:
        return Decision.SKIP
    return Decision.READY if c.skipped >= c.total else Decision.WAIT


def _one_success(c: UpstreamCounts) -> Decision:
    if c.success:
        return Decision.READY
    if c.all_done:
        return Decision.SKIP if c.done == c.skipped else Decision.UPSTREAM_FAILED
    return Decision.WAIT


def _one_failed(c: UpstreamCounts) -> Decision:
    if c.failed or c.upstream_failed:
        return Decision.READY
    return Decision.SKIP if c.all_done else Decision.WAIT


def _one_done(c: UpstreamCounts) -> Decision:
    if c.success or c.failed:
        return Decision.READY
    return Decision.SKIP if c.all_done else Decision.WAIT


def _none_failed(c: UpstreamCounts) -> Decision:
    if c.failed or c.upstream_failed:
        return Decision.UPSTREAM_FAILED
    return Decision.READY if c.success + c.skipped >= c.total else Decision.WAIT


def _none_failed_min_one_success(c: UpstreamCounts) -> Decision:
    if c.failed or c.upstream_failed:
        return Decision.UPSTREAM_FAILED
    if c.total and c.skipped >= c.total:
        return Decision.SKIP
    return Decision.READY if c.success + c.skipped >= c.total else Decision.WAIT


def _none_skipped(c: UpstreamCounts) -> Decision:
    if c.skipped:
        return Decision.SKIP
    return Decision.READY if c.all_done else Decision.WAIT


def _always(c: UpstreamCounts) -> Decision:
    return Decision.READY


TRIGGER_RULES: dict[TR, Callable[[UpstreamCounts], Decision]] = {
    TR.ALL_SUCCESS: _all_success,
    TR.ALL_FAILED: _all_failed,
    TR.ALL_DONE: _all_done,
    TR.ALL_DONE_MIN_ONE_SUCCESS: _all_done_min_one_success,
    TR.ALL_SKIPPED: _all_skipped,
    TR.ONE_SUCCESS: _one_success,
    TR.ONE_FAILED: _one_failed,
    TR.ONE_DONE: _one_done,
    TR.NONE_FAILED: _none_failed,
    TR.NONE_FAILED_MIN_ONE_SUCCESS: _none_failed_min_one_success,
    TR.NONE_SKIPPED: _none_skipped,
    TR.ALWAYS: _always,
}


def decide(rule: TR, upstream: UpstreamCounts) -> Decision:
    """What to do with a task that has not started, given its upstreams."""
    if upstream.total == 0:
        return Decision.READY
    return TRIGGER_RULES[rule](upstream)
