"""Failure handling: retries with Airflow's delay, infrastructure failures that
do not consume a try, fail-without-retry, tries history, XCom purge events."""

from datetime import timedelta

from leoflow_common.bus import Subscriptions
from leoflow_common.states import TaskInstanceState as TI
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1 import keys_pb2, states_pb2
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.scheduler.v1 import task_instances_pb2
from leoflow_scheduler.metrics import TASK_EVENTS

FAILED = states_pb2.TASK_INSTANCE_STATE_FAILED


async def test_a_failed_try_is_retried_after_the_delay(scheduler, spec_builder):
    await scheduler.register(
        spec_builder(
            "retry", {"a": [], "b": ["a"]}, retries={"a": 2}, retry_delay=timedelta(seconds=1)
        )
    )
    run = await scheduler.trigger("retry")
    first = await scheduler.dispatched("a")
    assert first.max_tries == 2
    await scheduler.start_running(first)
    await scheduler.report(
        first,
        FAILED,
        exit_code=1,
        error_message="flaky",
        failure_kind=states_pb2.FAILURE_KIND_USER_ERROR,
    )
    await scheduler.wait_ti_state("retry", run.run_id, "a", TI.UP_FOR_RETRY)
    ti = await scheduler.ti("retry", run.run_id, "a")
    delay = ti.next_retry_at.ToDatetime() - ti.end_date.ToDatetime()
    assert delay == timedelta(seconds=1)
    assert (await scheduler.run("retry", run.run_id)).state == states_pb2.DAG_RUN_STATE_RUNNING

    second = await scheduler.dispatched("a", try_number=2)
    assert second.task_instance_id == first.task_instance_id
    assert any(
        k.task_id == "a" for message in scheduler.cleared for k in message.keys
    )  # XCom purge
    await scheduler.run_to_success(second)
    await scheduler.run_to_success(await scheduler.dispatched("b"))
    await scheduler.wait_run_state("retry", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)

    key = keys_pb2.TaskInstanceKey(dag_id="retry", run_id=run.run_id, task_id="a", map_index=-1)
    tries = (
        await scheduler.tis.ListTaskInstanceTries(
            task_instances_pb2.ListTaskInstanceTriesRequest(key=key)
        )
    ).tries
    assert [(t.try_number, t.state) for t in tries] == [
        (1, states_pb2.TASK_INSTANCE_STATE_UP_FOR_RETRY),
        (2, states_pb2.TASK_INSTANCE_STATE_SUCCESS),
    ]
    assert tries[0].error == "flaky" and tries[0].hostname == "worker-1"


async def test_the_last_try_fails_the_task(scheduler, spec_builder):
    await scheduler.register(
        spec_builder("exhaust", {"a": []}, retries={"a": 1}, retry_delay=timedelta(0))
    )
    run = await scheduler.trigger("exhaust")
    await scheduler.report(await scheduler.dispatched("a"), FAILED)
    last = await scheduler.dispatched("a", try_number=2)
    await scheduler.report(last, FAILED)
    await scheduler.wait_run_state("exhaust", run.run_id, states_pb2.DAG_RUN_STATE_FAILED)
    assert (await scheduler.ti("exhaust", run.run_id, "a")).try_number == 2


async def test_fail_no_retry_fails_at_once(scheduler, spec_builder):
    await scheduler.register(
        spec_builder("noretry", {"a": []}, retries={"a": 3}, retry_delay=timedelta(0))
    )
    run = await scheduler.trigger("noretry")
    await scheduler.report(
        await scheduler.dispatched("a"), FAILED, failure_kind=states_pb2.FAILURE_KIND_FAIL_NO_RETRY
    )
    await scheduler.wait_run_state("noretry", run.run_id, states_pb2.DAG_RUN_STATE_FAILED)
    assert [d.execution.try_number for d in scheduler.dispatches] == [1]


async def test_infrastructure_failures_do_not_consume_a_try(scheduler, spec_builder):
    await scheduler.register(spec_builder("infra", {"a": []}, retries={"a": 1}))
    run = await scheduler.trigger("infra")
    infra = dict(
        failure_kind=states_pb2.FAILURE_KIND_INFRASTRUCTURE, error_message="ImagePullBackOff"
    )
    attempt0 = await scheduler.dispatched("a")
    await scheduler.report(attempt0, FAILED, **infra)
    attempt1 = await scheduler.dispatched("a", attempt=1)
    assert attempt1.try_number == 1
    ti = await scheduler.ti("infra", run.run_id, "a")
    assert (
        ti.state == states_pb2.TASK_INSTANCE_STATE_QUEUED
        and ti.try_number == 1
        and ti.error == "ImagePullBackOff"
    )
    await scheduler.report(attempt1, FAILED, **infra)
    attempt2 = await scheduler.dispatched("a", attempt=2)
    # The budget (3 dispatch attempts) is spent: the task fails, without a retry.
    await scheduler.report(attempt2, FAILED, **infra)
    await scheduler.wait_run_state("infra", run.run_id, states_pb2.DAG_RUN_STATE_FAILED)
    ti = await scheduler.ti("infra", run.run_id, "a")
    assert ti.try_number == 1 and "3 dispatch attempts" in ti.error
    assert [
        (d.execution.try_number, d.execution.dispatch_attempt) for d in scheduler.dispatches
    ] == [(1, 0), (1, 1), (1, 2)]


async def test_reports_for_another_try_are_ignored(scheduler, spec_builder):
    await scheduler.register(
        spec_builder("stale", {"a": []}, retries={"a": 1}, retry_delay=timedelta(0))
    )
    run = await scheduler.trigger("stale")
    first = await scheduler.dispatched("a")
    await scheduler.report(first, FAILED)
    second = await scheduler.dispatched("a", try_number=2)
    await scheduler.start_running(second)
    late = await scheduler.report(first, states_pb2.TASK_INSTANCE_STATE_SUCCESS)  # news of try 1
    await scheduler.processed(late)
    assert (
        await scheduler.ti("stale", run.run_id, "a")
    ).state == states_pb2.TASK_INSTANCE_STATE_RUNNING
    await scheduler.report(second, FAILED)
    await scheduler.wait_run_state("stale", run.run_id, states_pb2.DAG_RUN_STATE_FAILED)
    assert (
        await scheduler.ti("stale", run.run_id, "a")
    ).state == states_pb2.TASK_INSTANCE_STATE_FAILED


async def test_a_duplicate_envelope_is_applied_once(scheduler, spec_builder):
    await scheduler.register(spec_builder("dupe", {"a": []}))
    run = await scheduler.trigger("dupe")
    a = await scheduler.dispatched("a")
    envelope_id = await scheduler.report(a, states_pb2.TASK_INSTANCE_STATE_RUNNING)
    await scheduler.wait_ti_state("dupe", run.run_id, "a", TI.RUNNING)
    duplicates = TASK_EVENTS.labels("duplicate")._value.get()
    # Same envelope id again, now (wrongly) carrying a success: it must be ignored.
    await scheduler.report(a, states_pb2.TASK_INSTANCE_STATE_SUCCESS, envelope_id=envelope_id)

    async def recognised():
        return TASK_EVENTS.labels("duplicate")._value.get() == duplicates + 1

    await assert_eventually(recognised, message="the duplicate was recognised")
    assert (
        await scheduler.ti("dupe", run.run_id, "a")
    ).state == states_pb2.TASK_INSTANCE_STATE_RUNNING


async def test_branching_skips_the_branches_not_followed(scheduler, spec_builder):
    spec = spec_builder(
        "branchy", {"pick": [], "left": ["pick"], "right": ["pick"], "after_right": ["right"]},
        kinds={"pick": dag_pb2.OPERATOR_KIND_BRANCH_PYTHON},
    )  # fmt: skip
    await scheduler.register(spec)
    run = await scheduler.trigger("branchy")
    pick = await scheduler.dispatched("pick")
    await scheduler.start_running(pick)
    await scheduler.report(
        pick, states_pb2.TASK_INSTANCE_STATE_SUCCESS, branch_decided=True, follow_task_ids=["left"]
    )
    await scheduler.run_to_success(await scheduler.dispatched("left"))
    await scheduler.wait_run_state("branchy", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)
    assert await scheduler.ti_states("branchy", run.run_id) == {
        "pick": TI.SUCCESS, "left": TI.SUCCESS, "right": TI.SKIPPED, "after_right": TI.SKIPPED,
    }  # fmt: skip


async def test_reports_with_states_outside_the_contract_are_ignored(scheduler, spec_builder):
    await scheduler.register(spec_builder("odd", {"a": []}))
    run = await scheduler.trigger("odd")
    a = await scheduler.dispatched("a")
    await scheduler.report(a, 77)  # not a TaskInstanceState
    await scheduler.report(a, states_pb2.TASK_INSTANCE_STATE_DEFERRED)  # not supported yet
    await scheduler.run_to_success(a)
    await scheduler.wait_run_state("odd", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)
    assert await scheduler.bus.dead_letters(Subscriptions.SCHEDULER_TASK_EVENTS) == []
