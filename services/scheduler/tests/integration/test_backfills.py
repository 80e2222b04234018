"""Backfills (Airflow 3's backfill semantics) against a real scheduler: a run per
date of the range, throttled by the backfill's max_active_runs, reprocess
behaviours, dry runs, pause, cancel, completion."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import grpc
import pytest
from leoflow_common.grpc import client_channel, static_token
from leoflow_common.states import TaskInstanceState as TI
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.scheduler.v1 import backfills_pb2, backfills_pb2_grpc, runs_pb2

from ..conftest import CODEC


def day(days_ago: int) -> datetime:
    return datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days_ago)


def stamp(message, field, value):
    getattr(message, field).FromDatetime(value)
    return message


def spec_for(spec_builder, dag_id):
    # catchup off and a start_date long ago: the timetable itself creates only
    # today's run; the backfill covers the past.
    spec = spec_builder(dag_id, {"only": []}, schedule=dag_pb2.Schedule(kind=dag_pb2.SCHEDULE_KIND_CRON, expression="@daily"))
    spec.start_date.FromDatetime(day(30))
    return spec


def backfill_stub(scheduler):
    channel = client_channel(f"127.0.0.1:{scheduler.app.grpc_port}", static_token(CODEC.mint_service("api-gateway")))
    scheduler._channels.append(channel)
    return backfills_pb2_grpc.BackfillServiceStub(channel)


def request(dag_id, start, end, **fields):
    spec = backfills_pb2.BackfillSpec(dag_id=dag_id, **fields)
    stamp(spec, "from_date", start)
    stamp(spec, "to_date", end)
    return spec


async def backfill_runs(scheduler, dag_id):
    response = await scheduler.runs.ListDagRuns(
        runs_pb2.ListDagRunsRequest(dag_id=dag_id, run_types=[states_pb2.DAG_RUN_TYPE_BACKFILL])
    )
    return sorted(response.dag_runs, key=lambda r: r.logical_date.ToDatetime())


async def test_a_backfill_runs_each_date_throttled_and_completes(scheduler, spec_builder):
    await scheduler.register(spec_for(spec_builder, "bf"))
    stub = backfill_stub(scheduler)
    dry = await stub.DryRunBackfill(backfills_pb2.DryRunBackfillRequest(backfill=request("bf", day(5), day(3))))
    assert [t.ToDatetime(tzinfo=UTC) for t in dry.logical_dates] == [day(5), day(4), day(3)]
    created = (await stub.CreateBackfill(
        backfills_pb2.CreateBackfillRequest(backfill=request("bf", day(5), day(3), max_active_runs=1))
    )).backfill  # fmt: skip
    assert created.max_active_runs == 1 and not created.HasField("completed_at")
    runs = await backfill_runs(scheduler, "bf")
    assert [r.run_id for r in runs] == [f"backfill__{day(d).isoformat()}" for d in (5, 4, 3)]
    assert all(r.triggered_by == "backfill" for r in runs)
    with pytest.raises(grpc.aio.AioRpcError) as exc:  # one active backfill per DAG
        await stub.CreateBackfill(backfills_pb2.CreateBackfillRequest(backfill=request("bf", day(9), day(8))))
    assert exc.value.code() == grpc.StatusCode.ALREADY_EXISTS
    for expected in runs:  # in order, one at a time (max_active_runs=1)
        execution = await scheduler.dispatched("only", run_id=expected.run_id)
        running = [r for r in await backfill_runs(scheduler, "bf") if r.state == states_pb2.DAG_RUN_STATE_RUNNING]
        assert [r.run_id for r in running] == [expected.run_id]
        await scheduler.run_to_success(execution)
        await scheduler.wait_run_state("bf", expected.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)

    async def completed():
        backfill = (await stub.GetBackfill(backfills_pb2.GetBackfillRequest(backfill_id=created.id))).backfill
        return backfill if backfill.HasField("completed_at") else None

    await assert_eventually(completed, message="backfill completed")


async def test_reprocess_behaviour_decides_which_existing_runs_run_again(scheduler, spec_builder):
    await scheduler.register(spec_for(spec_builder, "bf_re"))
    stub = backfill_stub(scheduler)
    # Two manual runs at past dates: one succeeds, one fails.
    ok = await scheduler.trigger("bf_re", run_id="ok", logical_date=stamp(runs_pb2.TriggerDagRunRequest(), "logical_date", day(4)).logical_date)
    bad = await scheduler.trigger("bf_re", run_id="bad", logical_date=stamp(runs_pb2.TriggerDagRunRequest(), "logical_date", day(3)).logical_date)
    await scheduler.run_to_success(await scheduler.dispatched("only", run_id="ok"))
    failing = await scheduler.dispatched("only", run_id="bad")
    await scheduler.start_running(failing)
    await scheduler.report(failing, states_pb2.TASK_INSTANCE_STATE_FAILED)
    await scheduler.wait_run_state("bf_re", ok.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)
    await scheduler.wait_run_state("bf_re", bad.run_id, states_pb2.DAG_RUN_STATE_FAILED)

    none = await stub.DryRunBackfill(backfills_pb2.DryRunBackfillRequest(backfill=request("bf_re", day(4), day(3))))
    assert list(none.logical_dates) == []  # "none": existing runs are left alone
    failed_only = request("bf_re", day(5), day(3), reprocess_behavior=backfills_pb2.REPROCESS_BEHAVIOR_FAILED)
    dry = await stub.DryRunBackfill(backfills_pb2.DryRunBackfillRequest(backfill=failed_only))
    assert [t.ToDatetime(tzinfo=UTC) for t in dry.logical_dates] == [day(5), day(3)]
    await stub.CreateBackfill(backfills_pb2.CreateBackfillRequest(backfill=failed_only))
    # The failed run is cleared, queued again and adopted by the backfill; the
    # successful one is untouched; day 5 gets a new backfill run.
    rerun = await scheduler.dispatched("only", run_id="bad", try_number=2)
    again = await scheduler.run(("bf_re"), "bad")
    assert again.run_type == states_pb2.DAG_RUN_TYPE_BACKFILL
    assert (await scheduler.run("bf_re", "ok")).state == states_pb2.DAG_RUN_STATE_SUCCESS
    await scheduler.run_to_success(rerun)
    await scheduler.wait_run_state("bf_re", "bad", states_pb2.DAG_RUN_STATE_SUCCESS)
    assert (await scheduler.ti_states("bf_re", "bad")) == {"only": TI.SUCCESS}


async def test_cancel_fails_the_runs_not_started_and_completes_the_backfill(scheduler, spec_builder):
    await scheduler.register(spec_for(spec_builder, "bf_cancel"))
    stub = backfill_stub(scheduler)
    created = (await stub.CreateBackfill(
        backfills_pb2.CreateBackfillRequest(backfill=request("bf_cancel", day(6), day(3), max_active_runs=1))
    )).backfill  # fmt: skip
    first = await scheduler.dispatched("only", run_id=f"backfill__{day(6).isoformat()}")
    paused = (await stub.PauseBackfill(backfills_pb2.PauseBackfillRequest(backfill_id=created.id))).backfill
    assert paused.is_paused
    cancelled = (await stub.CancelBackfill(backfills_pb2.CancelBackfillRequest(backfill_id=created.id))).backfill
    assert cancelled.HasField("completed_at")
    states = {r.run_id: r.state for r in await backfill_runs(scheduler, "bf_cancel")}
    assert states[first.key.run_id] == states_pb2.DAG_RUN_STATE_RUNNING  # running runs finish on their own
    assert sorted(s for rid, s in states.items() if rid != first.key.run_id) == [states_pb2.DAG_RUN_STATE_FAILED] * 3
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await stub.UnpauseBackfill(backfills_pb2.UnpauseBackfillRequest(backfill_id=created.id))
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION and "already completed" in exc.value.details()


@pytest.mark.parametrize(
    ("mutate", "code", "message"),
    [
        (lambda r: setattr(r, "dag_id", "nope"), grpc.StatusCode.NOT_FOUND, "Could not find dag nope"),
        (lambda r: (stamp(r, "from_date", day(3)), stamp(r, "to_date", day(5))), grpc.StatusCode.INVALID_ARGUMENT, "to_date is before from_date"),
        (lambda r: (stamp(r, "from_date", day(-3)), stamp(r, "to_date", day(-5))), grpc.StatusCode.INVALID_ARGUMENT, "future dates"),
        (lambda r: r.dag_run_conf.update({"n": "x"}), grpc.StatusCode.INVALID_ARGUMENT, "Invalid input for param n"),
    ],
    ids=["unknown-dag", "reversed-range", "future", "bad-conf"],
)
async def test_bad_backfills_are_refused_clearly(scheduler, spec_builder, mutate, code, message):
    spec = spec_for(spec_builder, "bf_bad")
    spec.params["n"].has_default = True
    spec.params["n"].default.number_value = 1
    spec.params["n"].schema.update({"type": "integer"})
    await scheduler.register(spec)
    req = request("bf_bad", day(5), day(3))
    mutate(req)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await backfill_stub(scheduler).CreateBackfill(backfills_pb2.CreateBackfillRequest(backfill=req))
    assert exc.value.code() == code and message in exc.value.details()


async def test_a_dag_without_schedule_cannot_be_backfilled(scheduler, spec_builder):
    await scheduler.register(spec_builder("no_schedule"))
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await backfill_stub(scheduler).CreateBackfill(
            backfills_pb2.CreateBackfillRequest(backfill=request("no_schedule", day(5), day(3)))
        )
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "no_schedule has no schedule" in exc.value.details()
