"""Queued runs start only for unpaused DAGs and within max_active_runs; trigger
errors are clear."""

from datetime import UTC, datetime

import asyncpg
import grpc
import pytest
from google.protobuf import struct_pb2
from leoflow_common.errors import FIELD_METADATA_KEY
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.scheduler.v1 import registry_pb2, runs_pb2
from leoflow_scheduler.domain.run_starter import start_queued_runs

QUEUED, RUNNING, SUCCESS = (
    states_pb2.DAG_RUN_STATE_QUEUED,
    states_pb2.DAG_RUN_STATE_RUNNING,
    states_pb2.DAG_RUN_STATE_SUCCESS,
)


async def test_max_active_runs_holds_runs_queued(scheduler, spec_builder):
    await scheduler.register(spec_builder("one_at_a_time", {"a": []}, max_active_runs=1))
    first = await scheduler.trigger("one_at_a_time", run_id="first")
    second = await scheduler.trigger("one_at_a_time", run_id="second")
    a1 = await scheduler.dispatched("a", run_id="first")
    assert (await scheduler.run("one_at_a_time", second.run_id)).state == QUEUED
    await scheduler.run_to_success(a1)
    await scheduler.wait_run_state("one_at_a_time", first.run_id, SUCCESS)
    # The finished run freed the slot: the second starts without waiting for a sweep.
    await scheduler.dispatched("a", run_id="second")
    await scheduler.wait_run_state("one_at_a_time", second.run_id, RUNNING)


async def test_runs_of_paused_dags_stay_queued_until_unpaused(scheduler, spec_builder):
    await scheduler.register(
        spec_builder("sleepy", {"a": [], "b": ["a"]}, is_paused_upon_creation=True)
    )
    run = await scheduler.trigger("sleepy")
    assert await start_queued_runs(scheduler.app.ctx) == 0  # a starter pass leaves it alone
    assert (
        await scheduler.run("sleepy", run.run_id)
    ).state == QUEUED and scheduler.dispatches == []
    await scheduler.registry.UpdateDag(
        registry_pb2.UpdateDagRequest(dag_id="sleepy", is_paused=False)
    )
    a = await scheduler.dispatched("a")
    # Pausing a running DAG stops new tasks from being queued, as in Airflow...
    await scheduler.registry.UpdateDag(
        registry_pb2.UpdateDagRequest(dag_id="sleepy", is_paused=True)
    )
    await scheduler.run_to_success(a)
    await scheduler.wait_ti_state("sleepy", run.run_id, "a", "success")
    assert [d.execution.key.task_id for d in scheduler.dispatches] == ["a"]
    # ...and unpausing resumes the run at once.
    await scheduler.registry.UpdateDag(
        registry_pb2.UpdateDagRequest(dag_id="sleepy", is_paused=False)
    )
    await scheduler.run_to_success(await scheduler.dispatched("b"))
    await scheduler.wait_run_state("sleepy", run.run_id, SUCCESS)


async def test_trigger_carries_conf_params_and_dates(scheduler, spec_builder):
    spec = spec_builder("configured", {"a": []})
    spec.params["greeting"].default.string_value = "hello"
    spec.params["greeting"].has_default = True
    spec.params["target"].description = "required"
    await scheduler.register(spec)
    conf = struct_pb2.Struct()
    conf.update({"target": "world", "extra": 1})
    logical = datetime(2024, 3, 1, tzinfo=UTC)
    request = runs_pb2.TriggerDagRunRequest(
        dag_id="configured", conf=conf, note="by hand", run_id="with_conf"
    )
    request.logical_date.FromDatetime(logical)
    run = (await scheduler.runs.TriggerDagRun(request)).dag_run
    assert (
        run.run_type == states_pb2.DAG_RUN_TYPE_MANUAL
        and run.note == "by hand"
        and run.triggered_by == "rest_api"
    )
    assert (
        run.data_interval_start.ToDatetime(tzinfo=UTC)
        == logical
        == run.logical_date.ToDatetime(tzinfo=UTC)
    )
    a = await scheduler.dispatched("a")
    assert dict(a.run.params) == {"greeting": "hello", "target": "world", "extra": 1}
    assert dict(a.run.conf) == {"target": "world", "extra": 1}
    assert a.run.logical_date.ToDatetime(tzinfo=UTC) == logical

    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await scheduler.runs.TriggerDagRun(
            runs_pb2.TriggerDagRunRequest(
                dag_id="configured", logical_date=request.logical_date, conf=conf
            )
        )
    assert exc.value.code() == grpc.StatusCode.ALREADY_EXISTS  # same logical date


async def test_trigger_errors(scheduler, spec_builder):
    spec = spec_builder("strict", {"a": []})
    spec.params["needed"].description = "no default"
    await scheduler.register(spec)
    cases = [
        (runs_pb2.TriggerDagRunRequest(dag_id="missing"), grpc.StatusCode.NOT_FOUND, None),
        (runs_pb2.TriggerDagRunRequest(dag_id=""), grpc.StatusCode.INVALID_ARGUMENT, "dag_id"),
        (runs_pb2.TriggerDagRunRequest(dag_id="strict"), grpc.StatusCode.INVALID_ARGUMENT, "conf"),
        (
            runs_pb2.TriggerDagRunRequest(dag_id="strict", run_id="a/b"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "run_id",
        ),
        (
            runs_pb2.TriggerDagRunRequest(dag_id="strict", run_id="x..y"),
            grpc.StatusCode.INVALID_ARGUMENT,
            "run_id",
        ),
    ]
    for request, code, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await scheduler.runs.TriggerDagRun(request)
        assert exc.value.code() == code, (request, exc.value.details())
        if field:
            assert dict(exc.value.trailing_metadata())[FIELD_METADATA_KEY] == field
    conf = struct_pb2.Struct()
    conf.update({"needed": True})
    await scheduler.runs.TriggerDagRun(
        runs_pb2.TriggerDagRunRequest(dag_id="strict", run_id="once", conf=conf)
    )
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await scheduler.runs.TriggerDagRun(
            runs_pb2.TriggerDagRunRequest(dag_id="strict", run_id="once", conf=conf)
        )
    assert exc.value.code() == grpc.StatusCode.ALREADY_EXISTS


async def test_list_dag_runs_filters(scheduler, spec_builder):
    for dag_id in ("alpha", "beta"):
        await scheduler.register(spec_builder(dag_id, {"a": []}))
    await scheduler.trigger("alpha", run_id="alpha_1")
    await scheduler.trigger("alpha", run_id="alpha_2")
    await scheduler.trigger("beta", run_id="beta_1")
    await scheduler.run_to_success(await scheduler.dispatched("a", run_id="beta_1"))
    await scheduler.wait_run_state("beta", "beta_1", SUCCESS)

    async def run_ids(**fields):
        response = await scheduler.runs.ListDagRuns(runs_pb2.ListDagRunsRequest(**fields))
        return sorted(r.run_id for r in response.dag_runs), response.total_entries

    assert await run_ids(dag_id="~") == (["alpha_1", "alpha_2", "beta_1"], 3)
    assert await run_ids(dag_id="alpha") == (["alpha_1", "alpha_2"], 2)
    assert await run_ids(states=[SUCCESS]) == (["beta_1"], 1)
    assert await run_ids(run_id_pattern="_2") == (["alpha_2"], 1)
    assert await run_ids(run_ids=["alpha_1", "beta_1"]) == (["alpha_1", "beta_1"], 2)
    assert await run_ids(dag_ids=["beta"], run_types=[states_pb2.DAG_RUN_TYPE_MANUAL]) == (
        ["beta_1"],
        1,
    )
    assert await run_ids(run_types=[states_pb2.DAG_RUN_TYPE_SCHEDULED]) == ([], 0)
    future = runs_pb2.ListDagRunsRequest()
    future.run_after_gte.FromDatetime(datetime(2100, 1, 1, tzinfo=UTC))
    assert (await scheduler.runs.ListDagRuns(future)).total_entries == 0
    ordered = await scheduler.runs.ListDagRuns(
        runs_pb2.ListDagRunsRequest(page={"order_by": ["-id"], "limit": 2})
    )
    assert [r.run_id for r in ordered.dag_runs] == [
        "beta_1",
        "alpha_2",
    ] and ordered.total_entries == 3
    assert ordered.dag_runs[0].dag_version.version_number == 1

    async def has_user():
        runs = (
            await scheduler.runs.ListDagRuns(
                runs_pb2.ListDagRunsRequest(triggering_user_name_pattern="api-gat")
            )
        ).dag_runs
        return len(runs) == 3

    await assert_eventually(has_user)


async def test_consecutive_failed_runs_pause_the_dag(scheduler, spec_builder):
    await scheduler.register(spec_builder("streak", {"a": []}, max_consecutive_failed_dag_runs=2))
    for run_id in ("first", "second"):
        await scheduler.trigger("streak", run_id=run_id)
        await scheduler.report(
            await scheduler.dispatched("a", run_id=run_id), states_pb2.TASK_INSTANCE_STATE_FAILED
        )
        await scheduler.wait_run_state("streak", run_id, states_pb2.DAG_RUN_STATE_FAILED)
        dag = (await scheduler.registry.GetDag(registry_pb2.GetDagRequest(dag_id="streak"))).dag
        assert dag.is_paused == (run_id == "second")


async def test_dags_at_their_limit_do_not_crowd_out_others(
    scheduler_database, make_scheduler, spec_builder
):
    # Hold the leader lock ourselves: no loop runs, we drive the starter by hand.
    lock_key = 0x7E57
    blocker = await asyncpg.connect(scheduler_database)
    try:
        assert await blocker.fetchval("SELECT pg_try_advisory_lock($1)", lock_key)
        scheduler = await make_scheduler(lead=False, listen=False, leader_lock_key=lock_key)
        await scheduler.register(spec_builder("busy", {"a": []}, max_active_runs=1))
        await scheduler.register(spec_builder("other", {"a": []}))
        for i in range(4):
            await scheduler.trigger("busy", run_id=f"busy_{i}")
        await scheduler.trigger("other", run_id="other_0")
        ctx = scheduler.app.ctx
        assert await start_queued_runs(ctx, batch=2) == 2  # busy_0 and other_0
        assert await start_queued_runs(ctx, batch=2) == 0  # busy is at its limit
        runs = (await scheduler.runs.ListDagRuns(runs_pb2.ListDagRunsRequest())).dag_runs
        assert {r.run_id: r.state for r in runs} == {
            "busy_0": RUNNING, "busy_1": QUEUED, "busy_2": QUEUED, "busy_3": QUEUED, "other_0": RUNNING,
        }  # fmt: skip
        assert not scheduler.app.is_leader
    finally:
        await blocker.close()
