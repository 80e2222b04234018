"""A run from trigger to end, driven the way the dispatcher drives it: dispatch
requests arrive through the outbox and the bus; state changes go back on the bus."""

from leoflow_common.states import TaskInstanceState as TI
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_scheduler.repository import audit_log


async def test_chain_runs_in_order_and_succeeds(scheduler, spec_builder):
    await scheduler.register(spec_builder("chain", {"a": [], "b": ["a"], "c": ["b"]}))
    run = await scheduler.trigger("chain")
    assert run.run_id.startswith("manual__") and run.run_id.endswith("+00:00")

    a = await scheduler.dispatched("a", run_id=run.run_id)
    assert [d.execution.key.task_id for d in scheduler.dispatches] == ["a"]
    assert a.try_number == 1 and a.dag_file == "dag.py" and a.task.bash.bash_command == "echo a"
    assert a.run.run_id == run.run_id and list(a.upstream_task_ids) == []
    await scheduler.wait_run_state("chain", run.run_id, states_pb2.DAG_RUN_STATE_RUNNING)

    await scheduler.run_to_success(a)
    b = await scheduler.dispatched("b", run_id=run.run_id)
    assert list(b.upstream_task_ids) == ["a"]
    assert (await scheduler.ti_states("chain", run.run_id))["c"] == TI.NONE

    await scheduler.run_to_success(b)
    c = await scheduler.dispatched("c", run_id=run.run_id)
    await scheduler.run_to_success(c)

    finished = await scheduler.wait_run_state("chain", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)
    assert finished.HasField("end_date") and finished.HasField("start_date")
    assert await scheduler.ti_states("chain", run.run_id) == {
        "a": TI.SUCCESS,
        "b": TI.SUCCESS,
        "c": TI.SUCCESS,
    }
    ti_a = await scheduler.ti("chain", run.run_id, "a")
    assert ti_a.hostname == "worker-1" and ti_a.pid == 42 and ti_a.try_number == 1
    assert [d.execution.key.task_id for d in scheduler.dispatches] == ["a", "b", "c"]


async def test_failure_marks_downstream_upstream_failed_and_fails_the_run(scheduler, spec_builder):
    await scheduler.register(spec_builder("fails", {"a": [], "b": ["a"], "c": ["b"]}))
    run = await scheduler.trigger("fails")
    a = await scheduler.dispatched("a")
    await scheduler.report(a, states_pb2.TASK_INSTANCE_STATE_RUNNING)
    await scheduler.report(
        a,
        states_pb2.TASK_INSTANCE_STATE_FAILED,
        exit_code=3,
        error_message="boom",
        failure_kind=states_pb2.FAILURE_KIND_USER_ERROR,
    )
    await scheduler.wait_run_state("fails", run.run_id, states_pb2.DAG_RUN_STATE_FAILED)
    assert await scheduler.ti_states("fails", run.run_id) == {
        "a": TI.FAILED,
        "b": TI.UPSTREAM_FAILED,
        "c": TI.UPSTREAM_FAILED,
    }
    ti_a = await scheduler.ti("fails", run.run_id, "a")
    assert (
        ti_a.exit_code == 3
        and ti_a.error == "boom"
        and ti_a.failure_kind == states_pb2.FAILURE_KIND_USER_ERROR
    )
    assert [d.execution.key.task_id for d in scheduler.dispatches] == ["a"]


async def test_empty_tasks_succeed_without_dispatch(scheduler, spec_builder):
    spec = spec_builder(
        "empties", {"start": [], "work": ["start"], "end": ["work"]},
        kinds={"start": dag_pb2.OPERATOR_KIND_EMPTY, "end": dag_pb2.OPERATOR_KIND_EMPTY},
    )  # fmt: skip
    await scheduler.register(spec)
    run = await scheduler.trigger("empties")
    work = await scheduler.dispatched("work")
    assert (await scheduler.ti_states("empties", run.run_id))["start"] == TI.SUCCESS
    await scheduler.run_to_success(work)
    await scheduler.wait_run_state("empties", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)
    assert {d.execution.key.task_id for d in scheduler.dispatches} == {"work"}


async def test_a_run_of_only_empty_tasks_finishes_when_started(scheduler, spec_builder):
    spec = spec_builder(
        "all_empty",
        {"x": [], "y": ["x"]},
        kinds={"x": dag_pb2.OPERATOR_KIND_EMPTY, "y": dag_pb2.OPERATOR_KIND_EMPTY},
    )
    await scheduler.register(spec)
    run = await scheduler.trigger("all_empty")
    await scheduler.wait_run_state("all_empty", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)
    assert scheduler.dispatches == []


async def test_run_events_and_audit_log(scheduler, spec_builder):
    await scheduler.register(spec_builder("audited", {"a": []}))
    run = await scheduler.trigger("audited")
    a = await scheduler.dispatched("a")
    await scheduler.run_to_success(a)
    await scheduler.wait_run_state("audited", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)
    async with scheduler.app.ctx.pool.acquire() as conn:
        events = [
            row["event"]
            for row in await audit_log.list_events(conn=conn, tenant_id="default", dag_id="audited")
        ]
    assert events == ["register_dag_version", "trigger_dag_run"]

    async def outbox_drained():
        async with scheduler.app.ctx.pool.acquire() as conn:
            return (
                await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
            )

    await assert_eventually(outbox_drained)
