"""What users do to runs and task instances: mark runs, mark task instances,
clear, delete — with Airflow's side effects, cancel requests and XCom purges."""

import grpc
import pytest
from leoflow_common.states import TaskInstanceState as TI
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1 import keys_pb2, states_pb2
from leoflow_proto.scheduler.v1 import runs_pb2, task_instances_pb2
from leoflow_scheduler.repository import audit_log

RUN = states_pb2.DAG_RUN_STATE_RUNNING
FAILED_RUN, SUCCESS_RUN = states_pb2.DAG_RUN_STATE_FAILED, states_pb2.DAG_RUN_STATE_SUCCESS


def _key(dag_id, run_id, task_id=None):
    if task_id is None:
        return keys_pb2.DagRunKey(dag_id=dag_id, run_id=run_id)
    return keys_pb2.TaskInstanceKey(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=-1)


async def _started_diamond(scheduler, spec_builder, dag_id):
    await scheduler.register(
        spec_builder(dag_id, {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]})
    )
    run = await scheduler.trigger(dag_id)
    await scheduler.run_to_success(await scheduler.dispatched("a", run_id=run.run_id))
    b = await scheduler.dispatched("b", run_id=run.run_id)
    await scheduler.dispatched("c", run_id=run.run_id)
    await scheduler.start_running(b)
    return run


async def test_marking_a_run_failed_fails_running_tasks_and_skips_the_rest(scheduler, spec_builder):
    run = await _started_diamond(scheduler, spec_builder, "mark_failed")
    request = runs_pb2.UpdateDagRunRequest(
        key=_key("mark_failed", run.run_id), state=FAILED_RUN, note="stopped by hand"
    )
    updated = (await scheduler.runs.UpdateDagRun(request)).dag_run
    assert (
        updated.state == FAILED_RUN
        and updated.note == "stopped by hand"
        and updated.HasField("end_date")
    )
    assert await scheduler.ti_states("mark_failed", run.run_id) == {
        "a": TI.SUCCESS,
        "b": TI.FAILED,
        "c": TI.SKIPPED,
        "d": TI.SKIPPED,
    }

    async def both_cancelled():
        return sorted(c.key.task_instance.task_id for c in scheduler.cancels) == ["b", "c"]

    # b was running and c queued: both executions are asked to stop.
    await assert_eventually(both_cancelled)
    # A late report from the stopped execution changes nothing.
    b = next(d.execution for d in scheduler.dispatches if d.execution.key.task_id == "b")
    await scheduler.processed(await scheduler.report(b, states_pb2.TASK_INSTANCE_STATE_SUCCESS))
    assert (await scheduler.ti_states("mark_failed", run.run_id))["b"] == TI.FAILED
    assert (await scheduler.run("mark_failed", run.run_id)).state == FAILED_RUN


async def test_marking_a_run_success_succeeds_every_task(scheduler, spec_builder):
    run = await _started_diamond(scheduler, spec_builder, "mark_success")
    await scheduler.runs.UpdateDagRun(
        runs_pb2.UpdateDagRunRequest(key=_key("mark_success", run.run_id), state=SUCCESS_RUN)
    )
    assert set((await scheduler.ti_states("mark_success", run.run_id)).values()) == {TI.SUCCESS}
    assert (await scheduler.run("mark_success", run.run_id)).state == SUCCESS_RUN
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await scheduler.runs.UpdateDagRun(
            runs_pb2.UpdateDagRunRequest(key=_key("mark_success", run.run_id), state=RUN)
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_marking_a_failed_task_success_resumes_its_downstream(scheduler, spec_builder):
    await scheduler.register(spec_builder("resume", {"a": [], "b": ["a"], "c": ["b"]}))
    run = await scheduler.trigger("resume")
    await scheduler.report(await scheduler.dispatched("a"), states_pb2.TASK_INSTANCE_STATE_FAILED)
    await scheduler.wait_run_state("resume", run.run_id, FAILED_RUN)

    request = task_instances_pb2.UpdateTaskInstanceStateRequest(
        key=_key("resume", run.run_id, "a"),
        new_state=states_pb2.TASK_INSTANCE_STATE_SUCCESS,
        dry_run=True,
    )
    preview = (await scheduler.tis.UpdateTaskInstanceState(request)).task_instances
    assert [t.task_id for t in preview] == ["a"]
    assert (await scheduler.ti_states("resume", run.run_id))[
        "a"
    ] == TI.FAILED  # dry run changed nothing

    request.dry_run = False
    request.note = "it was fine"
    changed = (await scheduler.tis.UpdateTaskInstanceState(request)).task_instances
    assert [(t.task_id, t.state, t.note) for t in changed] == [
        ("a", states_pb2.TASK_INSTANCE_STATE_SUCCESS, "it was fine")
    ]
    # b and c were upstream_failed: cleared, the run is queued again and b runs.
    b = await scheduler.dispatched("b")
    await scheduler.run_to_success(b)
    await scheduler.run_to_success(await scheduler.dispatched("c"))
    await scheduler.wait_run_state("resume", run.run_id, SUCCESS_RUN)


async def test_mark_state_validation(scheduler, spec_builder):
    await scheduler.register(spec_builder("marks", {"a": []}))
    run = await scheduler.trigger("marks")
    bad = [
        (
            task_instances_pb2.UpdateTaskInstanceStateRequest(key=_key("marks", run.run_id, "a")),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            task_instances_pb2.UpdateTaskInstanceStateRequest(
                key=_key("marks", run.run_id, "a"), new_state=states_pb2.TASK_INSTANCE_STATE_RUNNING
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            task_instances_pb2.UpdateTaskInstanceStateRequest(
                key=_key("marks", run.run_id, "zz"),
                new_state=states_pb2.TASK_INSTANCE_STATE_SUCCESS,
            ),
            grpc.StatusCode.NOT_FOUND,
        ),
    ]
    for request, code in bad:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await scheduler.tis.UpdateTaskInstanceState(request)
        assert exc.value.code() == code


async def test_clearing_reruns_failed_tasks_with_more_tries(scheduler, spec_builder):
    await scheduler.register(spec_builder("clearme", {"a": [], "b": ["a"]}))
    run = await scheduler.trigger("clearme")
    first = await scheduler.dispatched("a")
    await scheduler.report(first, states_pb2.TASK_INSTANCE_STATE_FAILED)
    await scheduler.wait_run_state("clearme", run.run_id, FAILED_RUN)

    request = task_instances_pb2.ClearTaskInstancesRequest(
        dag_id="clearme",
        run_id=run.run_id,
        task_ids=["a"],
        include_downstream=True,
        only_failed=True,
        reset_dag_runs=True,
        dry_run=True,
    )
    preview = (await scheduler.tis.ClearTaskInstances(request)).task_instances
    assert sorted(t.task_id for t in preview) == ["a", "b"]
    assert (await scheduler.run("clearme", run.run_id)).state == FAILED_RUN

    request.dry_run = False
    cleared = (await scheduler.tis.ClearTaskInstances(request)).task_instances
    assert sorted(t.task_id for t in cleared) == ["a", "b"]
    second = await scheduler.dispatched("a", try_number=2)
    assert second.max_tries == 1  # Airflow: max_tries = try_number + retries
    assert any({k.task_id for k in m.keys} == {"a", "b"} for m in scheduler.cleared)
    await scheduler.run_to_success(second)
    await scheduler.run_to_success(await scheduler.dispatched("b"))
    finished = await scheduler.wait_run_state("clearme", run.run_id, SUCCESS_RUN)
    assert finished.HasField("start_date")
    tries = await scheduler.tis.ListTaskInstanceTries(
        task_instances_pb2.ListTaskInstanceTriesRequest(key=_key("clearme", run.run_id, "a"))
    )
    assert [(t.try_number, t.state) for t in tries.tries] == [
        (1, states_pb2.TASK_INSTANCE_STATE_FAILED),
        (2, states_pb2.TASK_INSTANCE_STATE_SUCCESS),
    ]


async def test_clearing_a_running_task_restarts_it(scheduler, spec_builder):
    await scheduler.register(spec_builder("restart", {"a": []}))
    run = await scheduler.trigger("restart")
    first = await scheduler.dispatched("a")
    await scheduler.start_running(first)
    await scheduler.tis.ClearTaskInstances(
        task_instances_pb2.ClearTaskInstancesRequest(dag_id="restart", run_id=run.run_id)
    )
    assert (await scheduler.ti_states("restart", run.run_id))["a"] == TI.RESTARTING
    # The dispatcher stops the execution and reports it failed: the task runs again.
    await scheduler.report(first, states_pb2.TASK_INSTANCE_STATE_FAILED, error_message="killed")
    second = await scheduler.dispatched("a", try_number=2)
    await scheduler.run_to_success(second)
    await scheduler.wait_run_state("restart", run.run_id, SUCCESS_RUN)
    assert [c.key.try_number for c in scheduler.cancels] == [1]


async def test_delete_run_and_audit(scheduler, spec_builder):
    run = await _started_diamond(scheduler, spec_builder, "deleted")
    await scheduler.runs.DeleteDagRun(runs_pb2.DeleteDagRunRequest(key=_key("deleted", run.run_id)))
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await scheduler.runs.GetDagRun(runs_pb2.GetDagRunRequest(key=_key("deleted", run.run_id)))
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    async with scheduler.app.ctx.pool.acquire() as conn:
        events = [
            r["event"]
            for r in await audit_log.list_events(conn=conn, tenant_id="default", dag_id="deleted")
        ]
    assert events[-1] == "delete_dag_run"


async def test_marking_a_run_queued_restarts_it(scheduler, spec_builder):
    await scheduler.register(spec_builder("requeue", {"a": [], "b": ["a"]}))
    run = await scheduler.trigger("requeue")
    await scheduler.report(await scheduler.dispatched("a"), states_pb2.TASK_INSTANCE_STATE_FAILED)
    await scheduler.wait_run_state("requeue", run.run_id, FAILED_RUN)
    queued = (
        await scheduler.runs.UpdateDagRun(
            runs_pb2.UpdateDagRunRequest(
                key=_key("requeue", run.run_id), state=states_pb2.DAG_RUN_STATE_QUEUED
            )
        )
    ).dag_run
    assert queued.state == states_pb2.DAG_RUN_STATE_QUEUED and not queued.HasField("end_date")
    # Airflow only re-queues the run: its task instances keep their states, so the
    # run ends again as soon as it is evaluated.
    await scheduler.wait_run_state("requeue", run.run_id, FAILED_RUN)


async def test_list_task_instances_filters(scheduler, spec_builder):
    await scheduler.register(spec_builder("listing", {"a": [], "b": ["a"], "c": ["a"]}))
    run = await scheduler.trigger("listing")
    await scheduler.run_to_success(await scheduler.dispatched("a"))
    await scheduler.dispatched("b")

    async def task_ids(**fields):
        response = await scheduler.tis.ListTaskInstances(
            task_instances_pb2.ListTaskInstancesRequest(**fields)
        )
        return [t.task_id for t in response.task_instances], response.total_entries

    everything = await task_ids(
        dag_id="~", run_id="~", page=keys_pb2.PageRequest(order_by=["task_id"])
    )
    assert everything == (["a", "b", "c"], 3)
    assert await task_ids(dag_id="listing", states=[states_pb2.TASK_INSTANCE_STATE_SUCCESS]) == (
        ["a"],
        1,
    )
    assert (
        await task_ids(
            states=[states_pb2.TASK_INSTANCE_STATE_QUEUED],
            page=keys_pb2.PageRequest(order_by=["-task_id"]),
        )
    )[1] == 2
    assert await task_ids(task_ids=["c", "zz"]) == (["c"], 1)
    assert await task_ids(run_ids=[run.run_id], task_id="b") == (["b"], 1)
    assert await task_ids(
        pools=["default_pool"],
        queues=["default"],
        page=keys_pb2.PageRequest(limit=1, order_by=["task_id"]),
    ) == (["a"], 3)
    assert await task_ids(task_display_name_pattern="zz") == ([], 0)
    ti = await scheduler.ti("listing", run.run_id, "a")
    assert (
        ti.operator_name == "BashOperator"
        and ti.dag_version.version_number == 1
        and ti.HasField("run_after")
    )
