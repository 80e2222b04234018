"""How a run ends (Airflow's DagRun.update_state): only when nothing is unfinished;
failed if a leaf failed or is upstream_failed, else success."""

from leoflow_common.states import DagRunState
from leoflow_common.states import TaskInstanceState as TI
from leoflow_scheduler.scheduling.run_outcome import run_outcome


def test_unfinished_tasks_keep_the_run_going():
    for unfinished in (
        TI.NONE,
        TI.QUEUED,
        TI.RUNNING,
        TI.UP_FOR_RETRY,
        TI.RESTARTING,
        TI.SCHEDULED,
    ):
        assert run_outcome({"a": TI.SUCCESS, "b": unfinished}, {"b"}) is None


def test_a_failed_leaf_fails_the_run():
    assert run_outcome({"a": TI.SUCCESS, "b": TI.FAILED}, {"b"}) == DagRunState.FAILED
    assert run_outcome({"a": TI.FAILED, "b": TI.UPSTREAM_FAILED}, {"b"}) == DagRunState.FAILED


def test_only_leaves_decide():
    # A failed task whose downstream (the leaf) ran anyway (e.g. all_done) does not fail the run.
    assert run_outcome({"a": TI.FAILED, "cleanup": TI.SUCCESS}, {"cleanup"}) == DagRunState.SUCCESS


def test_skipped_and_removed_leaves_succeed():
    assert run_outcome({"a": TI.SUCCESS, "b": TI.SKIPPED}, {"b"}) == DagRunState.SUCCESS
    assert run_outcome({"a": TI.SUCCESS, "gone": TI.REMOVED}, {"a", "gone"}) == DagRunState.SUCCESS
