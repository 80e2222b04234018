"""Task-instance transitions, by family. Every change of task_instances.state is
one of these, applied through `propose_ti_state`.

Scheduling (the scheduler decides from upstream states):
  QueueReadyTask, ScheduleReadyTask (held back by a pool or concurrency limit),
  SucceedEmptyTask, SkipOnUpstreamSkipped, FailOnUpstreamFailed,
  SkipNotFollowedBranch, SkipEmptyMapping
Execution (the dispatcher reports what an execution did):
  StartRunningTask, SucceedTask, FailTask, SkipTask, RetryFailedTask,
  RedispatchAfterInfrastructureFailure, RequeueRestartedTask
Retries (the retry timer): QueueRetryTask
Run timeouts (the run timeout timer): SkipOnRunTimeout
Users (REST API / UI): MarkTaskSuccess, MarkTaskFailed, MarkTaskSkipped,
  ClearTaskInstance, RestartRunningTask
"""

from __future__ import annotations

from leoflow_common.states import TI_UNFINISHED
from leoflow_common.states import TaskInstanceState as TI

from .rules import TaskRule

_NOT_STARTED = frozenset({TI.NONE, TI.SCHEDULED})
_EXECUTING = frozenset({TI.QUEUED, TI.RUNNING})


def _all_but(state: TI) -> frozenset[TI]:
    return frozenset(set(TI) - {state})


# -- scheduling --------------------------------------------------------------------
QueueReadyTask = TaskRule("QueueReadyTask", _NOT_STARTED, TI.QUEUED)
# Ready, but a pool, max_active_tasks or max_active_tis_per_dag holds it back.
ScheduleReadyTask = TaskRule("ScheduleReadyTask", frozenset({TI.NONE}), TI.SCHEDULED)
# A mapped task whose input has no items is skipped (Airflow's expand_mapped_task).
SkipEmptyMapping = TaskRule("SkipEmptyMapping", _NOT_STARTED, TI.SKIPPED)
SucceedEmptyTask = TaskRule("SucceedEmptyTask", _NOT_STARTED, TI.SUCCESS)
SkipOnUpstreamSkipped = TaskRule("SkipOnUpstreamSkipped", _NOT_STARTED, TI.SKIPPED)
FailOnUpstreamFailed = TaskRule("FailOnUpstreamFailed", _NOT_STARTED, TI.UPSTREAM_FAILED)
SkipNotFollowedBranch = TaskRule("SkipNotFollowedBranch", _NOT_STARTED, TI.SKIPPED)

# -- execution ---------------------------------------------------------------------
StartRunningTask = TaskRule("StartRunningTask", frozenset({TI.QUEUED}), TI.RUNNING)
# From queued too: the "running" report may arrive after the final one, or never.
SucceedTask = TaskRule("SucceedTask", _EXECUTING, TI.SUCCESS)
FailTask = TaskRule("FailTask", _EXECUTING, TI.FAILED)
SkipTask = TaskRule("SkipTask", _EXECUTING, TI.SKIPPED)
RetryFailedTask = TaskRule("RetryFailedTask", _EXECUTING, TI.UP_FOR_RETRY)
# Infrastructure failures do not consume a try: the same try is dispatched again.
RedispatchAfterInfrastructureFailure = TaskRule(
    "RedispatchAfterInfrastructureFailure", _EXECUTING, TI.QUEUED
)
# A try cleared while running ends (however it ends): the task runs again.
RequeueRestartedTask = TaskRule("RequeueRestartedTask", frozenset({TI.RESTARTING}), TI.NONE)

# -- retries -----------------------------------------------------------------------
QueueRetryTask = TaskRule("QueueRetryTask", frozenset({TI.UP_FOR_RETRY}), TI.QUEUED)

# -- run timeouts ------------------------------------------------------------------
# Airflow's scheduler sets every unfinished task instance of a timed-out run skipped.
SkipOnRunTimeout = TaskRule("SkipOnRunTimeout", TI_UNFINISHED, TI.SKIPPED)

# -- users -------------------------------------------------------------------------
MarkTaskSuccess = TaskRule("MarkTaskSuccess", _all_but(TI.SUCCESS), TI.SUCCESS)
MarkTaskFailed = TaskRule("MarkTaskFailed", _all_but(TI.FAILED), TI.FAILED)
MarkTaskSkipped = TaskRule("MarkTaskSkipped", _all_but(TI.SKIPPED), TI.SKIPPED)
ClearTaskInstance = TaskRule("ClearTaskInstance", frozenset(set(TI) - {TI.RUNNING}), TI.NONE)
# Airflow: a task cleared while running goes to restarting until its execution stops.
RestartRunningTask = TaskRule("RestartRunningTask", frozenset({TI.RUNNING}), TI.RESTARTING)

MARK_RULES = {TI.SUCCESS: MarkTaskSuccess, TI.FAILED: MarkTaskFailed, TI.SKIPPED: MarkTaskSkipped}
