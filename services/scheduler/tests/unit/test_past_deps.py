"""depends_on_past / ignore_first_depends_on_past / wait_for_downstream as
Airflow 3's PrevDagrunDep decides them, row by row (the facts are what it reads
from the previous run; `past_allows` is its verdict)."""

import pytest
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_scheduler.scheduling.past_deps import PastFacts, ignore_first, past_allows


def task(depends_on_past=True, wait_for_downstream=False, ignore_first_depends_on_past=None):
    t = dag_pb2.TaskSpec(task_id="t", depends_on_past=depends_on_past, wait_for_downstream=wait_for_downstream)
    if ignore_first_depends_on_past is not None:
        t.ignore_first_depends_on_past = ignore_first_depends_on_past
    return t


TABLE = [
    # (task, facts, may run, the Airflow behaviour the row reproduces)
    (task(depends_on_past=False), PastFacts(True, unsuccessful=1), True,
     "The task did not have depends_on_past set."),
    (task(), PastFacts(False), True,
     "This task instance was the first task instance for its task (no previous run; "
     "also a run without a logical date: get_previous_dagrun returns None)."),
    (task(), PastFacts(True, previous_run_before_start=True), True,
     "catchup: the previous run is before the task's start_date, the task wasn't active back then."),
    (task(), PastFacts(True), True,
     "every instance of the task in the previous run is success or skipped."),
    (task(), PastFacts(True, unsuccessful=1), False,
     "depends_on_past is true for this task, but 1 previous task instance(s) are not in a successful state."),
    (task(), PastFacts(True, unsuccessful=3), False,
     "all map indexes of the previous run's task count (_count_unsuccessful_tis)."),
    (task(), PastFacts(True, previous_has_task=False, prior_instances=False), True,
     "ignore_first_depends_on_past (default True) and it is the first task instance for its task."),
    (task(ignore_first_depends_on_past=True), PastFacts(True, previous_has_task=False, prior_instances=True), False,
     "the previous run has no instance but an older one has: the previous task instance has not run yet."),
    (task(ignore_first_depends_on_past=False), PastFacts(True, previous_has_task=False, prior_instances=False), False,
     "ignore_first_depends_on_past=False: the previous task instance has not run yet."),
    (task(), PastFacts(True, unsuccessful_downstream=2), True,
     "without wait_for_downstream the downstream of the previous instance is not looked at."),
    (task(wait_for_downstream=True), PastFacts(True, unsuccessful_downstream=1), False,
     "The tasks downstream of the previous task instance(s) haven't completed, and wait_for_downstream is True."),
    (task(wait_for_downstream=True), PastFacts(True), True,
     "wait_for_downstream: the previous instance and its direct downstream are success/skipped."),
    (task(wait_for_downstream=True), PastFacts(True, unsuccessful=1), False,
     "wait_for_downstream implies depends_on_past: the previous instance itself must be successful."),
]


@pytest.mark.parametrize(("spec", "facts", "expected", "airflow"), TABLE, ids=[row[3][:60] for row in TABLE])
def test_prev_dagrun_dep(spec, facts, expected, airflow):
    assert past_allows(spec, facts) is expected, airflow


def test_ignore_first_depends_on_past_defaults_to_true_as_in_airflow_3():
    assert ignore_first(task()) is True
    assert ignore_first(task(ignore_first_depends_on_past=False)) is False
