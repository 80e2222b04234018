"""depends_on_past / wait_for_downstream and dagrun_timeout against a real
scheduler (PostgreSQL, in-process bus, a fake dispatcher), each test citing the
Airflow 3 behaviour it reproduces."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf import timestamp_pb2
from leoflow_common.states import TaskInstanceState as TI
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1 import keys_pb2, states_pb2
from leoflow_proto.scheduler.v1 import registry_pb2, task_instances_pb2

RUNNING_RUN = states_pb2.DAG_RUN_STATE_RUNNING
FAILED_RUN = states_pb2.DAG_RUN_STATE_FAILED
SUCCESS_RUN = states_pb2.DAG_RUN_STATE_SUCCESS
DAY1 = datetime(2026, 1, 1, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


def ts(when: datetime) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(when)
    return stamp


async def settled(scheduler, envelope_id: str) -> None:
    """Wait until the report was handled and its run evaluated (the pass that
    would queue a task happens in the report's transaction)."""
    await scheduler.processed(envelope_id)


async def succeed(scheduler, execution) -> None:
    await scheduler.start_running(execution)
    await settled(scheduler, await scheduler.report(execution, states_pb2.TASK_INSTANCE_STATE_SUCCESS, exit_code=0))


def not_dispatched(scheduler, task_id: str, run_id: str) -> bool:
    return not any(
        m.execution.key.task_id == task_id and m.execution.key.run_id == run_id for m in scheduler.dispatches
    )


async def test_depends_on_past_waits_for_the_previous_runs_instance(scheduler, spec_builder):
    """Airflow's PrevDagrunDep: b of the 2nd run (by logical date) stays in state
    none while b of the 1st run is not success/skipped — the run is not deadlocked
    (Airflow skips the deadlock check while a task depends on past) — and runs once
    it succeeds. b of the 1st run is the first instance of its task
    (ignore_first_depends_on_past) and runs at once."""
    spec = spec_builder("past", {"a": [], "b": ["a"]})
    spec.tasks[1].depends_on_past = True
    await scheduler.register(spec)
    run1 = await scheduler.trigger("past", run_id="first", logical_date=ts(DAY1))
    run2 = await scheduler.trigger("past", run_id="second", logical_date=ts(DAY2))
    await succeed(scheduler, await scheduler.dispatched("a", run_id=run2.run_id))
    await asyncio.sleep(0.3)
    assert (await scheduler.ti_states("past", "second"))["b"] == TI.NONE
    assert not_dispatched(scheduler, "b", "second")
    assert (await scheduler.run("past", "second")).state == RUNNING_RUN  # waiting, not deadlocked
    await succeed(scheduler, await scheduler.dispatched("a", run_id=run1.run_id))
    b1 = await scheduler.dispatched("b", run_id="first")  # the first instance of b: no past to wait for
    assert not_dispatched(scheduler, "b", "second")
    await succeed(scheduler, b1)  # run 1's b finishing wakes run 2
    await succeed(scheduler, await scheduler.dispatched("b", run_id="second"))
    await scheduler.wait_run_state("past", "second", SUCCESS_RUN)


async def test_depends_on_past_stays_waiting_when_the_previous_instance_failed(scheduler, spec_builder):
    """Airflow: a failed previous instance is not in a successful state; only a
    user marking it success (or skipped) lets the next one run."""
    spec = spec_builder("past_failed", {"a": []})
    spec.tasks[0].depends_on_past = True
    await scheduler.register(spec)
    await scheduler.trigger("past_failed", run_id="first", logical_date=ts(DAY1))
    await scheduler.trigger("past_failed", run_id="second", logical_date=ts(DAY2))
    a1 = await scheduler.dispatched("a", run_id="first")
    await scheduler.start_running(a1)
    await settled(scheduler, await scheduler.report(a1, states_pb2.TASK_INSTANCE_STATE_FAILED))
    await scheduler.wait_run_state("past_failed", "first", FAILED_RUN)
    await asyncio.sleep(0.3)
    assert not_dispatched(scheduler, "a", "second")
    assert (await scheduler.run("past_failed", "second")).state == RUNNING_RUN
    await scheduler.tis.UpdateTaskInstanceState(
        task_instances_pb2.UpdateTaskInstanceStateRequest(
            key=keys_pb2.TaskInstanceKey(dag_id="past_failed", run_id="first", task_id="a", map_index=-1),
            new_state=states_pb2.TASK_INSTANCE_STATE_SUCCESS,
        )
    )
    await scheduler.dispatched("a", run_id="second")


async def test_a_run_without_logical_date_does_not_wait_on_past(scheduler, spec_builder):
    """Airflow 3: DagRun.get_previous_dagrun returns None for a run without a
    logical date, so depends_on_past passes ("first task instance")."""
    spec = spec_builder("past_none", {"a": []})
    spec.tasks[0].depends_on_past = True
    await scheduler.register(spec)
    await scheduler.trigger("past_none", run_id="dated", logical_date=ts(DAY1))
    await scheduler.trigger("past_none", run_id="undated")
    await scheduler.dispatched("a", run_id="dated")
    await scheduler.dispatched("a", run_id="undated")


async def test_wait_for_downstream_waits_for_the_previous_instances_downstream(scheduler, spec_builder):
    """Airflow's wait_for_downstream: a of run 2 waits for a of run 1 and for its
    direct downstream b of run 1 (success or skipped)."""
    spec = spec_builder("downstream", {"a": [], "b": ["a"]})
    spec.tasks[0].wait_for_downstream = True
    spec.tasks[0].depends_on_past = True
    await scheduler.register(spec)
    await scheduler.trigger("downstream", run_id="first", logical_date=ts(DAY1))
    await scheduler.trigger("downstream", run_id="second", logical_date=ts(DAY2))
    await succeed(scheduler, await scheduler.dispatched("a", run_id="first"))
    b1 = await scheduler.dispatched("b", run_id="first")
    await asyncio.sleep(0.3)
    assert not_dispatched(scheduler, "a", "second")  # a of run 1 done, its downstream b not yet
    await succeed(scheduler, b1)
    await scheduler.dispatched("a", run_id="second")


@pytest.mark.parametrize("max_sleep", [60.0])
async def test_dagrun_timeout_fails_the_run_skips_its_tasks_and_stops_running_tries(
    make_scheduler, spec_builder, max_sleep
):
    """Airflow's _schedule_dag_run: a running run whose start_date is more than
    dagrun_timeout ago is failed, its unfinished task instances set skipped, the
    DAG's failure callback requested with msg "timed_out". Leoflow also asks the
    dispatcher to stop the running try (as a user's "mark failed"). The timer
    sleeps until the deadline (its cap here is 60 s: no polling)."""
    scheduler = await make_scheduler(retry_timer_max_sleep=max_sleep)
    spec = spec_builder("timeout", {"a": [], "b": ["a"], "c": []})
    spec.dagrun_timeout.FromTimedelta(timedelta(seconds=1))
    spec.callbacks.on_failure = True
    await scheduler.register(spec)
    run = await scheduler.trigger("timeout", run_id="slow")
    a = await scheduler.dispatched("a", run_id="slow")
    await succeed(scheduler, await scheduler.dispatched("c", run_id="slow"))
    await scheduler.start_running(a)
    failed = await scheduler.wait_run_state("timeout", run.run_id, FAILED_RUN)
    assert failed.end_date.ToDatetime() - failed.start_date.ToDatetime() >= timedelta(seconds=1)
    assert await scheduler.ti_states("timeout", "slow") == {"a": TI.SKIPPED, "b": TI.SKIPPED, "c": TI.SUCCESS}

    async def cancelled():
        return [c for c in scheduler.cancels if c.key.task_instance.task_id == "a"]

    cancel = (await assert_eventually(cancelled, message="cancel of a"))[0]
    assert cancel.key.try_number == 1 and cancel.reason == "DagRun timed out"
    callback = await scheduler.dispatched("__dag_callback__", run_id="slow")
    assert callback.dag_callback.kind == "on_failure_callback"
    assert callback.dag_callback.reason == "timed_out"
    assert callback.dag_callback.run_state == FAILED_RUN
    # The stopped try's report is too late: the task instance stays skipped.
    await settled(scheduler, await scheduler.report(a, states_pb2.TASK_INSTANCE_STATE_FAILED))
    assert (await scheduler.ti_states("timeout", "slow"))["a"] == TI.SKIPPED


async def test_dagrun_timeout_leaves_runs_within_it_and_paused_dags_alone(scheduler, spec_builder):
    """Airflow only times out runs it examines (of unpaused DAGs) and only past
    the timeout; unpausing resumes the check."""
    spec = spec_builder("patient", {"a": []})
    spec.dagrun_timeout.FromTimedelta(timedelta(hours=1))
    await scheduler.register(spec)
    paused = spec_builder("paused_timeout", {"a": []})
    paused.dagrun_timeout.FromTimedelta(timedelta(seconds=1))
    await scheduler.register(paused)
    await scheduler.trigger("patient", run_id="ok")
    await scheduler.trigger("paused_timeout", run_id="held")
    await scheduler.dispatched("a", run_id="ok")
    await scheduler.dispatched("a", run_id="held")
    await scheduler.registry.UpdateDag(registry_pb2.UpdateDagRequest(dag_id="paused_timeout", is_paused=True))
    await asyncio.sleep(1.5)
    assert (await scheduler.run("paused_timeout", "held")).state == RUNNING_RUN
    assert (await scheduler.run("patient", "ok")).state == RUNNING_RUN
    await scheduler.registry.UpdateDag(registry_pb2.UpdateDagRequest(dag_id="paused_timeout", is_paused=False))
    await scheduler.wait_run_state("paused_timeout", "held", FAILED_RUN)
