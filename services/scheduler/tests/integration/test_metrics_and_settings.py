"""Every declared metric is fed by a run's ordinary life, and the composition
root refuses bad settings with a clear message."""

from datetime import timedelta

import pytest
from leoflow_common.errors import Unavailable
from leoflow_common.settings import env_var_names
from leoflow_common.states import TaskInstanceState as TI
from leoflow_common.testing import assert_eventually
from leoflow_proto.common.v1 import states_pb2
from leoflow_scheduler.__main__ import main
from leoflow_scheduler.metrics import METRICS
from leoflow_scheduler.settings import SchedulerSettings
from leoflow_scheduler.state_machine import propose_ti_state, task_rules


async def test_every_declared_metric_is_observed(scheduler, spec_builder):
    await scheduler.register(
        spec_builder("metered", {"a": []}, retries={"a": 1}, retry_delay=timedelta(0))
    )
    run = await scheduler.trigger("metered")
    first = await scheduler.dispatched("a")
    envelope_id = await scheduler.report(first, states_pb2.TASK_INSTANCE_STATE_FAILED)
    second = await scheduler.dispatched("a", try_number=2)
    await scheduler.report(
        first, states_pb2.TASK_INSTANCE_STATE_FAILED, envelope_id=envelope_id
    )  # duplicate
    await scheduler.report(first, states_pb2.TASK_INSTANCE_STATE_SUCCESS)  # stale try
    await scheduler.run_to_success(second)
    await scheduler.wait_run_state("metered", run.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)
    async with scheduler.app.ctx.pool.acquire() as conn:
        ti_id = await conn.fetchval("SELECT id FROM task_instances WHERE run_id = $1", run.run_id)
        assert not await propose_ti_state(
            conn, ti_id, task_rules.QueueReadyTask, TI.NONE
        )  # a lost race

    async def all_observed():
        assert METRICS.unobserved() == []
        return True

    await assert_eventually(all_observed)


def test_bad_settings_exit_with_a_message(monkeypatch, capsys):
    for name in env_var_names(SchedulerSettings):
        monkeypatch.delenv(name, raising=False)
    assert main([]) == 2
    assert "invalid scheduler settings" in capsys.readouterr().err
    assert main(["frobnicate"]) == 2
    assert "usage" in capsys.readouterr().err


def test_settings_read_the_environment(monkeypatch):
    monkeypatch.setenv("LEOFLOW_SCHEDULER_DATABASE_URL", "postgresql://db/leoflow")
    monkeypatch.setenv("LEOFLOW_SCHEDULER_DEFAULT_MAX_ACTIVE_RUNS", "4")
    monkeypatch.setenv("LEOFLOW_SCHEDULER_BOOTSTRAP_ADMIN_PASSWORD", "pw")
    monkeypatch.setenv("LEOFLOW_JWT_SECRET", "x" * 32)
    settings = SchedulerSettings()
    assert (
        settings.database_url == "postgresql://db/leoflow" and settings.default_max_active_runs == 4
    )
    assert (
        settings.grpc_bind == "0.0.0.0:50051"
        and settings.migrate_on_start
        and settings.dags_are_paused_at_creation
    )
    assert settings.bootstrap_admin_password.get_secret_value() == "pw"
    names = env_var_names(SchedulerSettings)
    assert {
        "LEOFLOW_SCHEDULER_DATABASE_URL",
        "LEOFLOW_SCHEDULER_LEADER_LOCK_KEY",
        "LEOFLOW_JWT_SECRET",
        "LEOFLOW_BUS_URL",
    } <= names


async def test_a_busy_port_is_a_clear_start_failure(make_scheduler):
    first = await make_scheduler(listen=False)
    with pytest.raises(Unavailable, match="cannot serve gRPC on 127.0.0.1"):
        await make_scheduler(grpc_bind=f"127.0.0.1:{first.app.grpc_port}", lead=False, listen=False)
