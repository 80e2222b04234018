"""Every trigger rule x every combination of two upstream states, as Airflow
3.2's TriggerRuleDep decides it in the scheduler (flag_upstream_failed=True):
first the state a task is marked with when its rule can no longer be met
(UPSTREAM_FAILED / SKIPPED), else READY when the rule passes, else WAIT.

Upstream states: S success, F failed, U upstream_failed, K skipped, R removed,
N not finished yet (none, scheduled, queued, running, up_for_retry, ...).
Each rule's row cites the clause of trigger_rule_dep.py it reproduces; with a
mapped upstream the counts are over its task instances (last test)."""

import itertools

import pytest
from leoflow_common.states import TaskInstanceState as TI
from leoflow_common.states import TriggerRule as TR
from leoflow_scheduler.scheduling.trigger_rules import Decision, UpstreamCounts, decide

STATE = {"S": TI.SUCCESS, "F": TI.FAILED, "U": TI.UPSTREAM_FAILED, "K": TI.SKIPPED, "R": TI.REMOVED, "N": TI.RUNNING}
PAIRS = ["".join(p) for p in itertools.combinations_with_replacement("SFUKRN", 2)]
R, W, X, UF = Decision.READY, Decision.WAIT, Decision.SKIP, Decision.UPSTREAM_FAILED

# Columns in PAIRS order:
#          SS SF SU SK SR SN FF FU FK FR FN UU UK UR UN KK KR KN RR RN NN
TABLE = {
    # flag: failed/upstream_failed -> UPSTREAM_FAILED, elif skipped -> SKIPPED; pass: upstream - success == 0
    TR.ALL_SUCCESS: [R, UF, UF, X, W, W, UF, UF, UF, UF, UF, UF, UF, UF, UF, X, X, X, W, W, W],
    # flag: success or skipped -> SKIPPED; pass: upstream - failed - upstream_failed <= 0
    TR.ALL_FAILED: [X, X, X, X, X, X, R, R, X, W, W, R, X, W, W, X, X, X, W, W, W],
    # pass: done >= upstream
    TR.ALL_DONE: [R, R, R, R, R, W, R, R, R, R, W, R, R, R, W, R, R, W, R, W, W],
    # flag: skipped -> SKIPPED, elif non-skipped all done and no success -> UPSTREAM_FAILED; pass: non-skipped all done
    TR.ALL_DONE_MIN_ONE_SUCCESS: [R, R, R, X, R, W, UF, UF, X, UF, W, UF, X, UF, W, X, X, X, UF, W, W],
    # flag: success, failed or upstream_failed -> SKIPPED; pass: upstream - skipped <= 0
    TR.ALL_SKIPPED: [X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, R, W, W, W, W, W],
    # flag: done and all skipped -> SKIPPED, elif done and no success -> UPSTREAM_FAILED; pass: success > 0
    TR.ONE_SUCCESS: [R, R, R, R, R, R, UF, UF, UF, UF, W, UF, UF, UF, W, X, UF, W, UF, W, W],
    # flag: done and no failed/upstream_failed -> SKIPPED; pass: failed or upstream_failed
    TR.ONE_FAILED: [X, R, R, X, X, W, R, R, R, R, R, R, R, R, R, X, X, W, X, W, W],
    # flag: done and no failed/success -> SKIPPED; pass: success + failed > 0
    TR.ONE_DONE: [R, R, R, R, R, R, R, R, R, R, R, X, X, X, W, X, X, W, X, W, W],
    # flag: failed/upstream_failed -> UPSTREAM_FAILED; pass: upstream - success - skipped <= 0
    TR.NONE_FAILED: [R, UF, UF, R, W, W, UF, UF, UF, UF, UF, UF, UF, UF, UF, R, W, W, W, W, W],
    # as none_failed, and all skipped -> SKIPPED
    TR.NONE_FAILED_MIN_ONE_SUCCESS: [R, UF, UF, R, W, W, UF, UF, UF, UF, UF, UF, UF, UF, UF, X, W, W, W, W, W],
    # flag: skipped -> SKIPPED; pass: all done and none skipped
    TR.NONE_SKIPPED: [R, R, R, X, R, W, R, R, X, R, W, R, X, R, W, X, X, X, R, W, W],
    # the trigger-rule dependency is not evaluated at all
    TR.ALWAYS: [R] * 21,
}

CASES = [(rule, pair, expected) for rule, row in TABLE.items() for pair, expected in zip(PAIRS, row, strict=True)]


def test_the_table_covers_every_rule_and_combination():
    assert set(TABLE) == set(TR) and len(CASES) == len(TR) * 21


@pytest.mark.parametrize(("rule", "pair", "expected"), CASES, ids=[f"{r.value}-{p}" for r, p, _ in CASES])
def test_rule_decision(rule, pair, expected):
    assert decide(rule, UpstreamCounts.of(STATE[c] for c in pair)) == expected


@pytest.mark.parametrize("rule", list(TR))
def test_a_task_without_upstream_is_ready(rule):
    assert decide(rule, UpstreamCounts.of([])) == Decision.READY


def test_a_fan_in_over_a_mapped_upstream_waits_for_every_instance():
    # Airflow counts the upstream's task instances (all map indexes) when it is mapped.
    three = [TI.SUCCESS, TI.SUCCESS, TI.RUNNING]
    assert decide(TR.ALL_SUCCESS, UpstreamCounts.of(three)) == Decision.WAIT
    assert decide(TR.ALL_SUCCESS, UpstreamCounts.of([TI.SUCCESS] * 3)) == Decision.READY
    assert decide(TR.ALL_SUCCESS, UpstreamCounts.of([TI.SUCCESS, TI.FAILED, TI.RUNNING])) == Decision.UPSTREAM_FAILED
    assert decide(TR.ALL_DONE, UpstreamCounts.of([TI.SUCCESS, TI.FAILED, TI.SKIPPED])) == Decision.READY
