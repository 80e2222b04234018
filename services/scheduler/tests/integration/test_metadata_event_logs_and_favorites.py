"""The event log (every change writes one row, ListEventLogs/GetEventLog read them
with Airflow's filters) and users' favorite DAGs (ListDags' is_favorite, GetDag's)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from leoflow_common.auth import TokenCodec
from leoflow_common.grpc import client_channel, static_token
from leoflow_proto.common.v1 import keys_pb2, states_pb2
from leoflow_proto.scheduler.v1 import metadata_pb2 as m
from leoflow_proto.scheduler.v1 import (
    metadata_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    runs_pb2,
    task_instances_pb2,
)


class Caller:
    """Stubs calling as one user."""

    def __init__(self, scheduler, username: str, role: str, tenant: str = "default"):
        codec = TokenCodec(scheduler.app.settings.security.jwt_secret.get_secret_value())
        channel = client_channel(f"127.0.0.1:{scheduler.app.grpc_port}", static_token(codec.mint_user(username, tenant, [role])))
        scheduler._channels.append(channel)
        self.event_logs = metadata_pb2_grpc.EventLogServiceStub(channel)
        self.favorites = metadata_pb2_grpc.DagFavoriteServiceStub(channel)
        self.registry = registry_pb2_grpc.DagRegistryServiceStub(channel)


async def expect_error(call, code: grpc.StatusCode) -> str:
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await call
    assert exc.value.code() == code, exc.value.details()
    return exc.value.details()


def ts(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp


async def test_every_change_writes_an_event_with_airflows_name(scheduler, spec_builder):
    await scheduler.register(spec_builder("audited", {"a": [], "b": ["a"]}))
    await scheduler.registry.UpdateDag(registry_pb2.UpdateDagRequest(dag_id="audited", is_paused=True))
    await scheduler.registry.UpdateDag(registry_pb2.UpdateDagRequest(dag_id="audited", is_paused=False))
    run = await scheduler.trigger("audited", conf={"password": "conf-secret", "n": 1})
    a = await scheduler.dispatched("a", run_id=run.run_id)
    await scheduler.run_to_success(a)
    await scheduler.wait_ti_state("audited", run.run_id, "a", "success")
    key = keys_pb2.TaskInstanceKey(dag_id="audited", run_id=run.run_id, task_id="b", map_index=-1)
    await scheduler.tis.UpdateTaskInstanceState(
        task_instances_pb2.UpdateTaskInstanceStateRequest(key=key, new_state=states_pb2.TASK_INSTANCE_STATE_SUCCESS)
    )
    await scheduler.tis.ClearTaskInstances(
        task_instances_pb2.ClearTaskInstancesRequest(dag_id="audited", run_id=run.run_id, task_ids=["b"])
    )
    await scheduler.tis.ClearTaskInstances(
        task_instances_pb2.ClearTaskInstancesRequest(dag_id="audited", run_id=run.run_id, reset_dag_runs=True)
    )
    await scheduler.runs.UpdateDagRun(
        runs_pb2.UpdateDagRunRequest(key=keys_pb2.DagRunKey(dag_id="audited", run_id=run.run_id), state=states_pb2.DAG_RUN_STATE_FAILED)
    )
    await scheduler.runs.DeleteDagRun(runs_pb2.DeleteDagRunRequest(key=keys_pb2.DagRunKey(dag_id="audited", run_id=run.run_id)))
    await scheduler.registry.DeleteDag(registry_pb2.DeleteDagRequest(dag_id="audited"))

    viewer = Caller(scheduler, "vic", "Viewer")
    answer = await viewer.event_logs.ListEventLogs(m.ListEventLogsRequest(dag_id="audited"))
    events = [e.event for e in answer.event_logs]
    assert events == [
        "register_dag_version", "patch_dag", "patch_dag", "trigger_dag_run", "patch_task_instance",
        "post_clear_task_instances", "clear_dag_run", "patch_dag_run", "delete_dag_run", "delete_dag",
    ]  # fmt: skip
    assert answer.total_entries == len(events)
    assert {e.owner for e in answer.event_logs} == {"api-gateway"}  # the service token the fixture calls with
    trigger = answer.event_logs[3]
    assert trigger.run_id == run.run_id and "conf-secret" not in trigger.extra
    assert json.loads(trigger.extra)["conf"] == {"password": "***", "n": 1}
    patched = answer.event_logs[4]
    assert (patched.task_id, patched.map_index) == ("b", -1)
    one = (await viewer.event_logs.GetEventLog(m.GetEventLogRequest(event_log_id=patched.event_log_id))).event_log
    assert one == patched


async def test_list_filters_and_order(scheduler, spec_builder):
    for dag_id in ("first_dag", "second_dag"):
        await scheduler.register(spec_builder(dag_id))
    await scheduler.registry.UpdateDag(registry_pb2.UpdateDagRequest(dag_id="first_dag", is_paused=True))
    viewer = Caller(scheduler, "vic", "Viewer")

    async def listed(**fields) -> list[tuple[str, str]]:
        answer = await viewer.event_logs.ListEventLogs(m.ListEventLogsRequest(**fields))
        return [(e.dag_id, e.event) for e in answer.event_logs]

    everything = await listed()
    assert everything == [("first_dag", "register_dag_version"), ("second_dag", "register_dag_version"), ("first_dag", "patch_dag")]
    assert await listed(page=keys_pb2.PageRequest(order_by=["-when"])) == everything[::-1]
    assert await listed(event="patch_dag") == [("first_dag", "patch_dag")]
    assert await listed(excluded_events=["patch_dag"]) == everything[:2]
    assert await listed(included_events=["patch_dag", "nothing"]) == [("first_dag", "patch_dag")]
    assert await listed(dag_id_pattern="SECOND") == [("second_dag", "register_dag_version")]
    assert await listed(dag_id_prefix_pattern="first_") == [("first_dag", "register_dag_version"), ("first_dag", "patch_dag")]
    assert await listed(event_pattern="patch|nope") == [("first_dag", "patch_dag")]
    assert await listed(owner="api-gateway", page=keys_pb2.PageRequest(limit=1, offset=1)) == [everything[1]]
    now = datetime.now(UTC)
    assert await listed(after=ts(now + timedelta(minutes=5))) == []
    assert await listed(before=ts(now + timedelta(minutes=5))) == everything
    await expect_error(viewer.event_logs.GetEventLog(m.GetEventLogRequest(event_log_id=10**9)), grpc.StatusCode.NOT_FOUND)
    bad = m.ListEventLogsRequest(page=keys_pb2.PageRequest(order_by=["nope"]))
    await expect_error(viewer.event_logs.ListEventLogs(bad), grpc.StatusCode.INVALID_ARGUMENT)
    # Another tenant sees none of it.
    stranger = Caller(scheduler, "sam", "Admin", tenant="other")
    assert (await stranger.event_logs.ListEventLogs(m.ListEventLogsRequest())).total_entries == 0


async def test_favorites_are_per_user(scheduler, spec_builder):
    for dag_id in ("liked", "other"):
        await scheduler.register(spec_builder(dag_id))
    ann, bob = Caller(scheduler, "ann", "Viewer"), Caller(scheduler, "bob", "Viewer")
    await ann.favorites.FavoriteDag(m.FavoriteDagRequest(dag_id="liked"))
    await ann.favorites.FavoriteDag(m.FavoriteDagRequest(dag_id="liked"))  # again: no change, no error
    assert "not found" in await expect_error(ann.favorites.FavoriteDag(m.FavoriteDagRequest(dag_id="ghost")), grpc.StatusCode.NOT_FOUND)

    async def favorite_ids(caller, value: bool) -> list[str]:
        answer = await caller.registry.ListDags(registry_pb2.ListDagsRequest(is_favorite=value))
        return [d.dag_id for d in answer.dags]

    assert await favorite_ids(ann, True) == ["liked"]
    assert await favorite_ids(ann, False) == ["other"]
    assert await favorite_ids(bob, True) == []
    listed = {d.dag_id: d.is_favorite for d in (await ann.registry.ListDags(registry_pb2.ListDagsRequest())).dags}
    assert listed == {"liked": True, "other": False}
    assert (await ann.registry.GetDag(registry_pb2.GetDagRequest(dag_id="liked"))).dag.is_favorite
    assert not (await bob.registry.GetDag(registry_pb2.GetDagRequest(dag_id="liked"))).dag.is_favorite

    assert "not marked" in await expect_error(bob.favorites.UnfavoriteDag(m.UnfavoriteDagRequest(dag_id="liked")), grpc.StatusCode.FAILED_PRECONDITION)
    await ann.favorites.UnfavoriteDag(m.UnfavoriteDagRequest(dag_id="liked"))
    assert await favorite_ids(ann, True) == []
    events = [(e.event, e.owner) for e in (await ann.event_logs.ListEventLogs(m.ListEventLogsRequest(dag_id="liked"))).event_logs]
    assert events[-2:] == [("favorite_dag", "ann"), ("unfavorite_dag", "ann")]
    assert [e for e, _ in events].count("favorite_dag") == 1  # the repeated mark changed nothing
    # A service has no favorites: it cannot mark any, and sees none.
    codec = TokenCodec(scheduler.app.settings.security.jwt_secret.get_secret_value())
    channel = client_channel(f"127.0.0.1:{scheduler.app.grpc_port}", static_token(codec.mint_service("svc")))
    scheduler._channels.append(channel)
    service_favorites = metadata_pb2_grpc.DagFavoriteServiceStub(channel)
    await expect_error(service_favorites.FavoriteDag(m.FavoriteDagRequest(dag_id="liked")), grpc.StatusCode.PERMISSION_DENIED)
    registry = scheduler.registry  # the fixture's stubs call with a service token
    assert not (await registry.GetDag(registry_pb2.GetDagRequest(dag_id="liked"))).dag.is_favorite
    assert [d.dag_id for d in (await registry.ListDags(registry_pb2.ListDagsRequest(is_favorite=True))).dags] == []
