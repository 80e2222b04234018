"""The transition rules as data, and the dates a run gets on each transition."""

from datetime import UTC, datetime

import pytest
from leoflow_common.states import DagRunState as R
from leoflow_common.states import TaskInstanceState as TI
from leoflow_scheduler.domain.run_transitions import run_state_dates
from leoflow_scheduler.state_machine import propose_ti_state, run_rules, task_rules
from leoflow_scheduler.state_machine.rules import RunRule, TaskRule

NOW = datetime(2024, 5, 1, tzinfo=UTC)
EARLIER = datetime(2024, 4, 1, tzinfo=UTC)


def test_rules_are_named_and_lead_to_one_state():
    rules = [v for v in vars(task_rules).values() if isinstance(v, TaskRule)]
    assert len({r.name for r in rules}) == len(rules) >= 15
    assert task_rules.QueueReadyTask.allows(TI.NONE) and not task_rules.QueueReadyTask.allows(
        TI.RUNNING
    )
    assert task_rules.StartRunningTask.from_states == {TI.QUEUED}
    assert task_rules.RetryFailedTask.to_state == TI.UP_FOR_RETRY
    assert not task_rules.ClearTaskInstance.allows(TI.RUNNING)  # running ones restart instead
    assert task_rules.RestartRunningTask.to_state == TI.RESTARTING
    assert all(not rule.allows(rule.to_state) for rule in task_rules.MARK_RULES.values())
    run_rule_list = [v for v in vars(run_rules).values() if isinstance(v, RunRule)]
    assert {r.name for r in run_rule_list} >= {
        "StartQueuedRun",
        "SucceedRun",
        "FailRun",
        "RequeueRun",
    }


async def test_propose_refuses_a_rule_that_does_not_apply():
    # A programming error, raised before any SQL is sent (no connection needed).
    with pytest.raises(ValueError, match="StartRunningTask does not apply"):
        await propose_ti_state(None, "id", task_rules.StartRunningTask, TI.NONE)
    with pytest.raises(ValueError, match="not writable"):
        await propose_ti_state(None, "id", task_rules.StartRunningTask, TI.QUEUED, state="success")


@pytest.mark.parametrize(
    ("old", "new", "start", "expected"),
    [
        (R.QUEUED, R.RUNNING, None, {"start_date": NOW, "end_date": None}),
        (R.QUEUED, R.RUNNING, EARLIER, {"start_date": EARLIER, "end_date": None}),
        (R.FAILED, R.RUNNING, EARLIER, {"start_date": NOW, "end_date": None}),
        (R.RUNNING, R.SUCCESS, EARLIER, {"end_date": NOW}),
        (R.RUNNING, R.FAILED, EARLIER, {"end_date": NOW}),
        (R.FAILED, R.SUCCESS, EARLIER, {}),
        (R.SUCCESS, R.QUEUED, EARLIER, {"queued_at": NOW, "start_date": None, "end_date": None}),
    ],
)
def test_run_dates_follow_airflows_set_state_table(old, new, start, expected):
    assert run_state_dates(old, new, start, NOW) == expected
