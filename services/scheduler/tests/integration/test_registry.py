"""DAG registry: validation before storage, idempotent versions, reads, pause, delete."""

import asyncio

import grpc
import pytest
from leoflow_common.errors import FIELD_METADATA_KEY
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import registry_pb2
from leoflow_scheduler.repository import audit_log


async def test_the_same_spec_twice_is_one_version(scheduler, spec_builder):
    spec = spec_builder("idem", {"a": [], "b": ["a"]}, description="first", tags=["etl", "daily"])
    first = await scheduler.register(spec)
    again = await scheduler.register(spec)
    assert first.created and not again.created
    assert again.dag_version.id == first.dag_version.id and first.dag_version.version_number == 1

    spec.description = "second"
    changed = await scheduler.register(spec)
    assert changed.created and changed.dag_version.version_number == 2
    assert changed.dag_version.spec_hash != first.dag_version.spec_hash

    dag = (await scheduler.registry.GetDag(registry_pb2.GetDagRequest(dag_id="idem"))).dag
    assert (
        dag.description == "second"
        and list(dag.tags) == ["daily", "etl"]
        and list(dag.owners) == ["airflow"]
    )
    assert (
        dag.latest_version.version_number == 2
        and dag.latest_version.spec_hash == changed.dag_version.spec_hash
    )
    assert (
        dag.timetable_summary == "None"
        and dag.max_active_runs == 16
        and dag.HasField("last_parsed_time")
    )

    versions = await scheduler.registry.ListDagVersions(
        registry_pb2.ListDagVersionsRequest(dag_id="idem")
    )
    assert [v.version_number for v in versions.dag_versions] == [
        1,
        2,
    ] and versions.total_entries == 2
    newest_first = await scheduler.registry.ListDagVersions(
        registry_pb2.ListDagVersionsRequest(
            dag_id="idem", page=keys_pb2.PageRequest(order_by=["-version_number"], limit=1)
        )
    )
    assert [v.version_number for v in newest_first.dag_versions] == [
        2
    ] and newest_first.total_entries == 2

    v1 = (
        await scheduler.registry.GetDagVersion(
            registry_pb2.GetDagVersionRequest(dag_id="idem", version_number=1)
        )
    ).dag_version
    assert v1.spec.description == "first" and [t.task_id for t in v1.spec.tasks] == ["a", "b"]
    latest = (
        await scheduler.registry.GetDagVersion(registry_pb2.GetDagVersionRequest(dag_id="idem"))
    ).dag_version
    assert latest.version_number == 2 and latest.spec == spec


async def test_concurrent_registrations_of_one_spec_make_one_version(scheduler, spec_builder):
    spec = spec_builder("racy", {"a": []})
    results = await asyncio.gather(*(scheduler.register(spec) for _ in range(5)))
    assert sum(r.created for r in results) == 1
    assert len({r.dag_version.id for r in results}) == 1


async def test_invalid_specs_are_refused_with_the_field_and_nothing_is_stored(
    scheduler, spec_builder
):
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await scheduler.register(spec_builder("bad", {"a": ["b"], "b": ["a"]}))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert exc.value.details() == "cycle: a -> b -> a"
    assert dict(exc.value.trailing_metadata())[FIELD_METADATA_KEY] == "tasks"
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await scheduler.registry.GetDag(registry_pb2.GetDagRequest(dag_id="bad"))
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await scheduler.registry.RegisterDagVersion(registry_pb2.RegisterDagVersionRequest())
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_paused_at_creation_follows_the_spec_then_the_setting(make_scheduler, spec_builder):
    scheduler = await make_scheduler(dags_are_paused_at_creation=True)
    await scheduler.register(spec_builder("default_paused", {"a": []}))
    await scheduler.register(
        spec_builder("spec_unpaused", {"a": []}, is_paused_upon_creation=False)
    )
    listed = await scheduler.registry.ListDags(registry_pb2.ListDagsRequest())
    assert {d.dag_id: d.is_paused for d in listed.dags} == {
        "default_paused": True,
        "spec_unpaused": False,
    }
    # A new version never changes the live flag.
    await scheduler.register(
        spec_builder("spec_unpaused", {"a": [], "b": []}, is_paused_upon_creation=True)
    )
    dag = (await scheduler.registry.GetDag(registry_pb2.GetDagRequest(dag_id="spec_unpaused"))).dag
    assert not dag.is_paused and dag.latest_version.version_number == 2


async def test_pause_unpause_and_delete_are_audited(scheduler, spec_builder):
    await scheduler.register(spec_builder("lifecycle", {"a": []}))
    paused = await scheduler.registry.UpdateDag(
        registry_pb2.UpdateDagRequest(dag_id="lifecycle", is_paused=True)
    )
    assert paused.dag.is_paused
    unpaused = await scheduler.registry.UpdateDag(
        registry_pb2.UpdateDagRequest(dag_id="lifecycle", is_paused=False)
    )
    assert not unpaused.dag.is_paused
    await scheduler.trigger("lifecycle")
    await scheduler.dispatched("a")
    await scheduler.registry.DeleteDag(registry_pb2.DeleteDagRequest(dag_id="lifecycle"))
    for call, request in (
        (scheduler.registry.GetDag, registry_pb2.GetDagRequest(dag_id="lifecycle")),
        (scheduler.registry.DeleteDag, registry_pb2.DeleteDagRequest(dag_id="lifecycle")),
        (
            scheduler.registry.UpdateDag,
            registry_pb2.UpdateDagRequest(dag_id="lifecycle", is_paused=True),
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await call(request)
        assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    async with scheduler.app.ctx.pool.acquire() as conn:
        events = [
            r["event"]
            for r in await audit_log.list_events(conn=conn, tenant_id="default", dag_id="lifecycle")
        ]
        leftovers = await conn.fetchval(
            "SELECT count(*) FROM task_instances WHERE dag_id = 'lifecycle'"
        )
    assert events == ["register_dag_version", "patch_dag", "patch_dag", "trigger_dag_run", "delete_dag"]
    assert leftovers == 0


async def test_a_dag_with_running_tasks_cannot_be_deleted(scheduler, spec_builder):
    await scheduler.register(spec_builder("busy", {"a": []}))
    await scheduler.trigger("busy")
    await scheduler.start_running(await scheduler.dispatched("a"))
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await scheduler.registry.DeleteDag(registry_pb2.DeleteDagRequest(dag_id="busy"))
    assert exc.value.code() == grpc.StatusCode.FAILED_PRECONDITION


async def test_update_dag_needs_is_paused(scheduler, spec_builder):
    await scheduler.register(spec_builder("needs", {"a": []}))
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await scheduler.registry.UpdateDag(registry_pb2.UpdateDagRequest(dag_id="needs"))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(exc.value.trailing_metadata())[FIELD_METADATA_KEY] == "is_paused"
