"""Trigger rules as Airflow's TriggerRuleDep decides them in the scheduler
(flag_upstream_failed=True): all_success row by row, then the other rules."""

import pytest
from leoflow_common.states import TaskInstanceState as TI
from leoflow_common.states import TriggerRule as TR
from leoflow_scheduler.scheduling.trigger_rules import (
    TRIGGER_RULES,
    Decision,
    UpstreamCounts,
    decide,
)

S, F, K, UF, R, RUN, NONE, RETRY = (
    TI.SUCCESS,
    TI.FAILED,
    TI.SKIPPED,
    TI.UPSTREAM_FAILED,
    TI.RUNNING,
    TI.RUNNING,
    TI.NONE,
    TI.UP_FOR_RETRY,
)

ALL_SUCCESS_TABLE = [
    # upstream states                   decision
    ([], Decision.READY),  # no upstream: runs at once
    ([S], Decision.READY),
    ([S, S, S], Decision.READY),
    ([S, RUN], Decision.WAIT),
    ([NONE, NONE], Decision.WAIT),
    ([S, RETRY], Decision.WAIT),  # up_for_retry is not failed yet
    ([F], Decision.UPSTREAM_FAILED),
    ([UF], Decision.UPSTREAM_FAILED),
    ([S, F], Decision.UPSTREAM_FAILED),
    ([RUN, F], Decision.UPSTREAM_FAILED),  # Airflow does not wait for the others
    ([K], Decision.SKIP),
    ([S, K], Decision.SKIP),
    ([RUN, K], Decision.SKIP),
    ([K, F], Decision.UPSTREAM_FAILED),  # failure wins over skip
    ([K, UF], Decision.UPSTREAM_FAILED),
]


@pytest.mark.parametrize(("upstream", "expected"), ALL_SUCCESS_TABLE)
def test_all_success(upstream, expected):
    assert decide(TR.ALL_SUCCESS, UpstreamCounts.of(upstream)) == expected


OTHER_RULES_TABLE = [
    (TR.ALL_FAILED, [F, UF], Decision.READY),
    (TR.ALL_FAILED, [F, RUN], Decision.WAIT),
    (TR.ALL_FAILED, [F, S], Decision.SKIP),
    (TR.ALL_DONE, [S, F, K], Decision.READY),
    (TR.ALL_DONE, [S, RUN], Decision.WAIT),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, [S, F], Decision.READY),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, [F, UF], Decision.UPSTREAM_FAILED),
    (TR.ALL_DONE_MIN_ONE_SUCCESS, [S, K], Decision.SKIP),
    (TR.ALL_SKIPPED, [K, K], Decision.READY),
    (TR.ALL_SKIPPED, [K, S], Decision.SKIP),
    (TR.ONE_SUCCESS, [S, RUN], Decision.READY),
    (TR.ONE_SUCCESS, [F, RUN], Decision.WAIT),
    (TR.ONE_SUCCESS, [F, F], Decision.UPSTREAM_FAILED),
    (TR.ONE_SUCCESS, [K, K], Decision.SKIP),
    (TR.ONE_FAILED, [F, RUN], Decision.READY),
    (TR.ONE_FAILED, [S, S], Decision.SKIP),
    (TR.ONE_DONE, [F, RUN], Decision.READY),
    (TR.ONE_DONE, [K, K], Decision.SKIP),
    (TR.NONE_FAILED, [S, K], Decision.READY),
    (TR.NONE_FAILED, [S, UF], Decision.UPSTREAM_FAILED),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, [K, K], Decision.SKIP),
    (TR.NONE_FAILED_MIN_ONE_SUCCESS, [S, K], Decision.READY),
    (TR.NONE_SKIPPED, [S, F], Decision.READY),
    (TR.NONE_SKIPPED, [S, K], Decision.SKIP),
    (TR.ALWAYS, [RUN, NONE], Decision.READY),
]


@pytest.mark.parametrize(("rule", "upstream", "expected"), OTHER_RULES_TABLE)
def test_other_rules(rule, upstream, expected):
    assert decide(rule, UpstreamCounts.of(upstream)) == expected


def test_every_rule_has_an_entry():
    assert set(TRIGGER_RULES) == set(TR)
