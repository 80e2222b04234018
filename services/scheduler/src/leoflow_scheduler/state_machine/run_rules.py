"""DagRun transitions. Every change of dag_runs.state is one of these, applied
through `propose_run_state` (normally via `domain.run_transitions`, which also
sets the dates Airflow sets and publishes DagRunStateChanged).

  StartQueuedRun      queued -> running          (run starter)
  SucceedRun          running -> success         (every task finished, leaves fine)
  FailRun             running -> failed          (every task finished, a leaf failed)
  TimeOutRun          running -> failed          (dagrun_timeout passed; run timeout timer)
  MarkRunSuccess      queued/running/failed -> success   (users)
  MarkRunFailed       queued/running/success -> failed   (users)
  RequeueRun          running/success/failed -> queued   (users, clear)
"""

from __future__ import annotations

from leoflow_common.states import DagRunState as R

from .rules import RunRule

StartQueuedRun = RunRule("StartQueuedRun", frozenset({R.QUEUED}), R.RUNNING)
SucceedRun = RunRule("SucceedRun", frozenset({R.RUNNING}), R.SUCCESS)
FailRun = RunRule("FailRun", frozenset({R.RUNNING}), R.FAILED)
TimeOutRun = RunRule("TimeOutRun", frozenset({R.RUNNING}), R.FAILED)
MarkRunSuccess = RunRule("MarkRunSuccess", frozenset({R.QUEUED, R.RUNNING, R.FAILED}), R.SUCCESS)
MarkRunFailed = RunRule("MarkRunFailed", frozenset({R.QUEUED, R.RUNNING, R.SUCCESS}), R.FAILED)
RequeueRun = RunRule("RequeueRun", frozenset({R.RUNNING, R.SUCCESS, R.FAILED}), R.QUEUED)
