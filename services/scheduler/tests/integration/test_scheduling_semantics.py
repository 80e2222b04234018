"""Scheduling semantics against a real scheduler (PostgreSQL, in-process bus, a
fake dispatcher): scheduled runs with and without catchup, max_active_runs,
pools and concurrency limits, dynamic task mapping, params, DAG callbacks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from leoflow_common.grpc import client_channel, static_token
from leoflow_common.states import TaskInstanceState as TI
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.scheduler.v1 import (
    pools_pb2,
    pools_pb2_grpc,
    registry_pb2,
    runs_pb2,
    task_instances_pb2,
)

from ..conftest import CODEC

SUCCESS = states_pb2.TASK_INSTANCE_STATE_SUCCESS
FAILED = states_pb2.TASK_INSTANCE_STATE_FAILED


def midnight(days_ago: int) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago)


def daily_spec(spec_builder, dag_id, *, catchup, start_days_ago=3, **fields):
    spec = spec_builder(dag_id, {"only": []}, schedule=dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_CRON, expression="@daily"), catchup=catchup, **fields)
    spec.start_date.FromDatetime(midnight(start_days_ago))
    return spec


async def runs_of(scheduler, dag_id):
    response = await scheduler.runs.ListDagRuns(runs_pb2.ListDagRunsRequest(dag_id=dag_id))
    return sorted(response.dag_runs, key=lambda r: r.logical_date.ToDatetime())


def pool_stub(scheduler):
    channel = client_channel(f"127.0.0.1:{scheduler.app.grpc_port}", static_token(CODEC.mint_service("api-gateway")))
    scheduler._channels.append(channel)
    return pools_pb2_grpc.PoolServiceStub(channel)


async def test_catchup_creates_a_run_per_missed_tick_with_airflow_run_ids(scheduler, spec_builder):
    await scheduler.register(daily_spec(spec_builder, "cron_catchup", catchup=True))

    async def four_runs():
        runs = await runs_of(scheduler, "cron_catchup")
        return runs if len(runs) == 4 else None

    runs = await assert_eventually(four_runs, message="4 scheduled runs")
    expected = [midnight(d) for d in (3, 2, 1, 0)]
    assert [r.logical_date.ToDatetime(tzinfo=UTC) for r in runs] == expected
    assert [r.run_id for r in runs] == [f"scheduled__{d.isoformat()}" for d in expected]
    for run, when in zip(runs, expected, strict=True):
        # Airflow 3's CronTriggerTimetable: run_after == data interval == logical date.
        assert run.run_type == states_pb2.DAG_RUN_TYPE_SCHEDULED and run.triggered_by == "timetable"
        assert run.run_after.ToDatetime(tzinfo=UTC) == run.data_interval_start.ToDatetime(tzinfo=UTC) == run.data_interval_end.ToDatetime(tzinfo=UTC) == when
    dag = (await scheduler.registry.GetDag(registry_pb2.GetDagRequest(dag_id="cron_catchup"))).dag
    assert dag.next_dagrun_logical_date.ToDatetime(tzinfo=UTC) == midnight(-1)  # the "Next Run"
    assert dag.next_dagrun_run_after.ToDatetime(tzinfo=UTC) == midnight(-1)
    assert dag.timetable_summary == "0 0 * * *"


async def test_without_catchup_only_the_latest_tick_runs(scheduler, spec_builder):
    await scheduler.register(daily_spec(spec_builder, "cron_latest", catchup=False))
    runs = await assert_eventually(lambda: _runs_at_least(scheduler, "cron_latest", 1), message="a run")
    assert [r.logical_date.ToDatetime(tzinfo=UTC) for r in runs] == [midnight(0)]
    dag = (await scheduler.registry.GetDag(registry_pb2.GetDagRequest(dag_id="cron_latest"))).dag
    assert dag.next_dagrun_logical_date.ToDatetime(tzinfo=UTC) == midnight(-1)


async def _runs_at_least(scheduler, dag_id, n):
    runs = await runs_of(scheduler, dag_id)
    return runs if len(runs) >= n else None


async def test_max_active_runs_holds_back_run_creation_until_a_run_ends(scheduler, spec_builder):
    await scheduler.register(daily_spec(spec_builder, "cron_one", catchup=True, max_active_runs=1))
    first = (await assert_eventually(lambda: _runs_at_least(scheduler, "cron_one", 1), message="first run"))[0]
    execution = await scheduler.dispatched("only", run_id=first.run_id)
    assert len(await runs_of(scheduler, "cron_one")) == 1  # no second run while one is active
    await scheduler.run_to_success(execution)
    runs = await assert_eventually(lambda: _runs_at_least(scheduler, "cron_one", 2), message="second run")
    assert runs[1].logical_date.ToDatetime(tzinfo=UTC) == midnight(2)


async def test_a_pool_holds_tasks_in_scheduled_and_queues_them_as_slots_free(scheduler, spec_builder):
    pools = pool_stub(scheduler)
    await pools.CreatePool(pools_pb2.CreatePoolRequest(pool=pools_pb2.PoolFields(name="one", slots=1)))
    spec = spec_builder("pooled", {"a": [], "b": [], "c": []})
    for task in spec.tasks:
        task.pool = "one"
    await scheduler.register(spec)
    run = await scheduler.trigger("pooled")
    first = await scheduler.dispatched("a", run_id=run.run_id)
    states = await scheduler.ti_states("pooled", run.run_id)
    assert sorted(states.values()) == [TI.QUEUED, TI.SCHEDULED, TI.SCHEDULED]
    stats = (await pools.GetPool(pools_pb2.GetPoolRequest(name="one"))).pool
    assert (stats.queued_slots, stats.scheduled_slots, stats.open_slots, stats.occupied_slots) == (1, 2, 0, 1)
    await scheduler.run_to_success(first)
    second = await scheduler.dispatched("b", run_id=run.run_id)  # queued as soon as the slot freed
    await scheduler.run_to_success(second)
    await scheduler.run_to_success(await scheduler.dispatched("c", run_id=run.run_id))
    await scheduler.wait_run_state("pooled", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)
    # More slots queue held task instances at once.
    run2 = await scheduler.trigger("pooled", run_id="second")
    await scheduler.dispatched("a", run_id="second")
    await pools.UpdatePool(pools_pb2.UpdatePoolRequest(name="one", changes=pools_pb2.PoolFields(slots=3)))
    await scheduler.dispatched("b", run_id=run2.run_id)
    await scheduler.dispatched("c", run_id=run2.run_id)


async def test_max_active_tasks_per_run_and_max_active_tis_per_dag(scheduler, spec_builder):
    spec = spec_builder("limited", {"a": [], "b": [], "c": []}, max_active_tasks=2)
    await scheduler.register(spec)
    run = await scheduler.trigger("limited")
    await scheduler.dispatched("a", run_id=run.run_id)
    await scheduler.dispatched("b", run_id=run.run_id)
    assert (await scheduler.ti_states("limited", run.run_id))["c"] == TI.SCHEDULED

    solo = spec_builder("solo", {"t": []})
    solo.tasks[0].max_active_tis_per_dag = 1
    await scheduler.register(solo)
    r1 = await scheduler.trigger("solo", run_id="r1")
    r2 = await scheduler.trigger("solo", run_id="r2")
    first = await scheduler.dispatched("t", run_id=r1.run_id)
    await scheduler.wait_ti_state("solo", r2.run_id, "t", TI.SCHEDULED)
    await scheduler.run_to_success(first)
    await scheduler.dispatched("t", run_id=r2.run_id)


def _mapped_spec(spec_builder, dag_id, source):
    spec = spec_builder(dag_id, {"gen": [], "m": ["gen"], "total": ["m"]})
    m = next(t for t in spec.tasks if t.task_id == "m")
    if source == "xcom":
        m.mapping.expand["x"].xcom.task_id = "gen"
    else:
        m.mapping.expand["x"].literal.list_value.SetInParent()
        m.mapping.expand["x"].literal.list_value.extend(source)
    return spec


async def _mapped_states(scheduler, dag_id, run_id):
    response = await scheduler.tis.ListTaskInstances(task_instances_pb2.ListTaskInstancesRequest(dag_id=dag_id, run_id=run_id))
    return {(ti.task_id, ti.map_index): TI.from_proto(ti.state) for ti in response.task_instances}


async def test_mapping_over_a_literal_list_expands_at_run_creation_and_fans_in(scheduler, spec_builder):
    await scheduler.register(_mapped_spec(spec_builder, "map_literal", ["a", "b", "c"]))
    run = await scheduler.trigger("map_literal")
    states = await _mapped_states(scheduler, "map_literal", run.run_id)
    assert {k for k in states if k[0] == "m"} == {("m", 0), ("m", 1), ("m", 2)}
    await scheduler.run_to_success(await scheduler.dispatched("gen", run_id=run.run_id))
    executions = [await _dispatched_index(scheduler, "m", i, run.run_id) for i in range(3)]
    assert [e.key.map_index for e in executions] == [0, 1, 2]
    for execution in executions[:2]:
        await _run_mapped_to_success(scheduler, execution)
    assert (await _mapped_states(scheduler, "map_literal", run.run_id))[("total", -1)] == TI.NONE  # fan-in waits
    await _run_mapped_to_success(scheduler, executions[2])
    await scheduler.run_to_success(await scheduler.dispatched("total", run_id=run.run_id))
    await scheduler.wait_run_state("map_literal", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)


async def _run_mapped_to_success(scheduler, execution, **fields):
    """The conftest's run_to_success, for a mapped instance (its own map_index)."""
    key = execution.key
    await scheduler.report(execution, states_pb2.TASK_INSTANCE_STATE_RUNNING)

    async def running():
        states = await _mapped_states(scheduler, key.dag_id, key.run_id)
        return states.get((key.task_id, key.map_index)) == TI.RUNNING

    await assert_eventually(running, message=f"{key.task_id}[{key.map_index}] running")
    await scheduler.report(execution, SUCCESS, **fields)


async def _dispatched_index(scheduler, task_id, map_index, run_id):
    async def find():
        for message in scheduler.dispatches:
            ex = message.execution
            if ex.key.task_id == task_id and ex.key.map_index == map_index and ex.key.run_id == run_id:
                return ex
        return None

    return await assert_eventually(find, message=f"dispatch of {task_id}[{map_index}]")


async def test_mapping_over_an_upstream_xcom_expands_when_its_length_is_reported(scheduler, spec_builder):
    await scheduler.register(_mapped_spec(spec_builder, "map_xcom", "xcom"))
    run = await scheduler.trigger("map_xcom")
    gen = await scheduler.dispatched("gen", run_id=run.run_id)
    assert gen.report_output_length  # a downstream maps over gen's output
    await scheduler.start_running(gen)
    await scheduler.report(gen, SUCCESS, mapped_lengths={"return_value": 2})
    m0 = await _dispatched_index(scheduler, "m", 0, run.run_id)
    m1 = await _dispatched_index(scheduler, "m", 1, run.run_id)
    assert set(await _mapped_states(scheduler, "map_xcom", run.run_id)) == {("gen", -1), ("m", 0), ("m", 1), ("total", -1)}
    await _run_mapped_to_success(scheduler, m0)
    await _run_mapped_to_success(scheduler, m1)
    await scheduler.run_to_success(await scheduler.dispatched("total", run_id=run.run_id))
    await scheduler.wait_run_state("map_xcom", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)


async def test_mapping_over_an_empty_output_skips_the_mapped_task(scheduler, spec_builder):
    await scheduler.register(_mapped_spec(spec_builder, "map_empty", "xcom"))
    run = await scheduler.trigger("map_empty")
    gen = await scheduler.dispatched("gen", run_id=run.run_id)
    await scheduler.start_running(gen)
    await scheduler.report(gen, SUCCESS, mapped_lengths={"return_value": 0})
    await scheduler.wait_run_state("map_empty", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)
    states = await _mapped_states(scheduler, "map_empty", run.run_id)
    # Airflow: zero items -> the mapped task is skipped; all_success below it skips too.
    assert states == {("gen", -1): TI.SUCCESS, ("m", -1): TI.SKIPPED, ("total", -1): TI.SKIPPED}


async def test_a_missing_length_fails_the_mapped_task_upstream_failed(scheduler, spec_builder):
    await scheduler.register(_mapped_spec(spec_builder, "map_nolen", "xcom"))
    run = await scheduler.trigger("map_nolen")
    await scheduler.run_to_success(await scheduler.dispatched("gen", run_id=run.run_id))
    await scheduler.wait_run_state("map_nolen", run.run_id, states_pb2.DAG_RUN_STATE_FAILED)
    assert (await _mapped_states(scheduler, "map_nolen", run.run_id))[("m", -1)] == TI.UPSTREAM_FAILED


async def test_trigger_conf_is_validated_against_params(scheduler, spec_builder):
    spec = spec_builder("with_params")
    spec.params["n"].schema.update({"type": "integer"})
    await scheduler.register(spec)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await scheduler.trigger("with_params")
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Invalid input for param n: No value passed" in exc.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await scheduler.trigger("with_params", conf={"n": "three"})
    assert "Invalid input for param n: 'three' is not of type 'integer'" in exc.value.details()
    run = await scheduler.trigger("with_params", conf={"n": 3})
    execution = await scheduler.dispatched("only", run_id=run.run_id)
    assert dict(execution.run.params) == {"n": 3}


async def test_a_failed_run_dispatches_the_dags_failure_callback(scheduler, spec_builder):
    spec = spec_builder("with_callbacks")
    spec.callbacks.on_failure = True
    await scheduler.register(spec)
    run = await scheduler.trigger("with_callbacks")
    execution = await scheduler.dispatched("only", run_id=run.run_id)
    await scheduler.start_running(execution)
    await scheduler.report(execution, FAILED, failure_kind=states_pb2.FAILURE_KIND_USER_ERROR)
    callback = await scheduler.dispatched("__dag_callback__", run_id=run.run_id)
    assert (callback.key.map_index, callback.try_number) == (-1, 1)
    assert callback.dag_callback.kind == "on_failure_callback"
    assert callback.dag_callback.reason == "task_failure"
    assert callback.dag_callback.run_state == states_pb2.DAG_RUN_STATE_FAILED
    envelope = await scheduler.report(callback, SUCCESS)
    await scheduler.processed(envelope)
    async with scheduler.app.ctx.pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM audit_log WHERE event = 'dag_callback' AND run_id = $1", run.run_id)
    assert row is not None and '"outcome": "success"' in row["extra"]
    states = await scheduler.ti_states("with_callbacks", run.run_id)
    assert states == {"only": TI.FAILED}  # no task instance for the callback
