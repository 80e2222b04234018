"""depends_on_past / ignore_first_depends_on_past / wait_for_downstream: Airflow's
PrevDagrunDep, decided for one task of one run.

A task with depends_on_past runs in a run only when, in the DAG's previous run,
every instance of the same task (all map indexes) is success or skipped; with
wait_for_downstream, every instance of the task's direct downstream tasks there
too. "The previous run" is Airflow 3's:
- a run without a logical date has none (DagRun.get_previous_dagrun returns None):
  its tasks never wait;
- otherwise the run of the DAG with the greatest logical date before this run's
  (runs without a logical date are never anyone's previous run); with catchup, only
  runs that are not manual count (DagRun.get_previous_scheduled_dagrun);
- no previous run: the task is the first, it runs;
- with catchup, a previous run before the DAG's start_date does not count either;
- the previous run has no instance of the task (the task is new): with
  ignore_first_depends_on_past (Airflow 3's default) it runs unless an instance of
  the task exists in some earlier run; without it, it waits.

A task instance that waits on its past stays in state none; the run is then not
"deadlocked" (Airflow skips its deadlock check while an unfinished task instance's
task depends on past). When a task instance of the previous run finishes, the
following run is evaluated again (`domain.following_runs`).
"""

from __future__ import annotations

from dataclasses import dataclass

from leoflow_common.states import TaskInstanceState as TI
from leoflow_proto.dag.v1 import dag_pb2

_SUCCESSFUL = [TI.SUCCESS.to_db(), TI.SKIPPED.to_db()]


@dataclass(frozen=True)
class PastFacts:
    """What PrevDagrunDep looks at, read from the database."""

    has_previous_run: bool
    previous_run_before_start: bool = False  # catchup only
    previous_has_task: bool = True  # the previous run has instances of the task
    prior_instances: bool = True  # some earlier run has an instance of the task
    unsuccessful: int = 0  # the task's instances in the previous run not success/skipped
    unsuccessful_downstream: int = 0  # same, for the task's direct downstream tasks


def ignore_first(task: dag_pb2.TaskSpec) -> bool:
    """ignore_first_depends_on_past, True when unset (Airflow 3's default)."""
    return task.ignore_first_depends_on_past if task.HasField("ignore_first_depends_on_past") else True


def past_allows(task: dag_pb2.TaskSpec, facts: PastFacts) -> bool:
    """PrevDagrunDep's verdict: may the task instance run, as far as its past goes?"""
    if not task.depends_on_past:
        return True
    if not facts.has_previous_run or facts.previous_run_before_start:
        return True
    if not facts.previous_has_task:
        return ignore_first(task) and not facts.prior_instances
    if facts.unsuccessful > 0:
        return False
    return not (task.wait_for_downstream and facts.unsuccessful_downstream > 0)


async def previous_run(conn, run_row, spec: dag_pb2.DagSpec):
    """The run Airflow's PrevDagrunDep compares with (see the module docstring), or None."""
    if run_row["logical_date"] is None:
        return None
    return await conn.fetchrow(
        "SELECT id, logical_date FROM dag_runs WHERE tenant_id = $1 AND dag_id = $2 AND logical_date < $3 "
        "AND (NOT $4 OR run_type <> 'manual') ORDER BY logical_date DESC LIMIT 1",
        run_row["tenant_id"], run_row["dag_id"], run_row["logical_date"], bool(spec.catchup),
    )  # fmt: skip


async def read_facts(conn, run_row, spec: dag_pb2.DagSpec, task: dag_pb2.TaskSpec, downstream) -> PastFacts:
    """The facts `past_allows` needs for `task` in the run `run_row`."""
    prev = await previous_run(conn, run_row, spec)
    if prev is None:
        return PastFacts(has_previous_run=False)
    if spec.catchup and spec.HasField("start_date") and prev["logical_date"] < spec.start_date.ToDatetime(
        tzinfo=prev["logical_date"].tzinfo
    ):
        return PastFacts(has_previous_run=True, previous_run_before_start=True)
    task_id = task.task_id
    downstream = sorted(downstream) if task.wait_for_downstream else []
    rows = await conn.fetch(
        "SELECT task_id, count(*) AS n, "
        "count(*) FILTER (WHERE state IS NULL OR NOT state = ANY($3::text[])) AS unsuccessful "
        "FROM task_instances WHERE dag_run_id = $1 AND task_id = ANY($2::text[]) GROUP BY task_id",
        prev["id"], [task_id, *downstream], _SUCCESSFUL,
    )  # fmt: skip
    by_task = {r["task_id"]: r for r in rows}
    if task_id not in by_task:
        prior = await conn.fetchval(
            "SELECT EXISTS (SELECT 1 FROM task_instances ti JOIN dag_runs r ON r.id = ti.dag_run_id "
            "WHERE r.tenant_id = $1 AND r.dag_id = $2 AND ti.task_id = $3 AND r.logical_date < $4)",
            run_row["tenant_id"], run_row["dag_id"], task_id, run_row["logical_date"],
        )  # fmt: skip
        return PastFacts(has_previous_run=True, previous_has_task=False, prior_instances=bool(prior))
    return PastFacts(
        has_previous_run=True,
        unsuccessful=by_task[task_id]["unsuccessful"],
        unsuccessful_downstream=sum(r["unsuccessful"] for t, r in by_task.items() if t != task_id),
    )


async def past_depends_met(conn, run_row, spec: dag_pb2.DagSpec, task: dag_pb2.TaskSpec, downstream) -> bool:
    """PrevDagrunDep for `task` in the run `run_row` (True at once without depends_on_past)."""
    if not task.depends_on_past:
        return True
    return past_allows(task, await read_facts(conn, run_row, spec, task, downstream))
