"""ListDags: every filter of ListDagsRequest, ordering, paging, latest runs,
tenant isolation."""

import grpc
import pytest
from leoflow_common.errors import FIELD_METADATA_KEY
from leoflow_proto.common.v1 import keys_pb2, states_pb2
from leoflow_proto.scheduler.v1 import registry_pb2


async def _ids(scheduler, **fields):
    response = await scheduler.registry.ListDags(registry_pb2.ListDagsRequest(**fields))
    return [d.dag_id for d in response.dags], response.total_entries


@pytest.fixture
async def catalog(scheduler, spec_builder):
    specs = [
        spec_builder("sales_daily", {"a": []}, tags=["etl", "sales"], display_name="Sales (daily)"),
        spec_builder("sales_hourly", {"a": []}, tags=["sales"]),
        spec_builder("marketing", {"a": []}, tags=["etl"], is_paused_upon_creation=True),
        spec_builder("ops_cleanup", {"a": []}),
    ]
    specs[3].tasks[0].owner = "ops-team"
    for spec in specs:
        await scheduler.register(spec)
    return scheduler


async def test_filters(catalog):
    s = catalog
    assert await _ids(s) == (["marketing", "ops_cleanup", "sales_daily", "sales_hourly"], 4)
    assert await _ids(s, dag_id_pattern="sales") == (["sales_daily", "sales_hourly"], 2)
    assert await _ids(s, dag_id_pattern="SALES_%ly") == (["sales_daily", "sales_hourly"], 2)
    assert await _ids(s, dag_display_name_pattern="(daily)") == (["sales_daily"], 1)
    assert await _ids(s, tags=["etl", "sales"]) == (["marketing", "sales_daily", "sales_hourly"], 3)
    assert await _ids(s, tags=["etl", "sales"], tags_match_mode="all") == (["sales_daily"], 1)
    assert await _ids(s, owners=["ops-team"]) == (["ops_cleanup"], 1)
    assert await _ids(s, paused=True) == (["marketing"], 1)
    assert await _ids(s, paused=False) == (["ops_cleanup", "sales_daily", "sales_hourly"], 3)
    assert await _ids(s, dag_ids=["ops_cleanup", "marketing", "nope"]) == (
        ["marketing", "ops_cleanup"],
        2,
    )
    assert await _ids(s, only_active=True) == (
        ["marketing", "ops_cleanup", "sales_daily", "sales_hourly"],
        4,
    )
    assert await _ids(s, is_favorite=True) == ([], 0)
    assert await _ids(s, has_import_errors=False) == (
        ["marketing", "ops_cleanup", "sales_daily", "sales_hourly"],
        4,
    )


async def test_order_and_pages(catalog):
    s = catalog
    page = keys_pb2.PageRequest(limit=2, offset=1, order_by=["-dag_id"])
    assert await _ids(s, page=page) == (["sales_daily", "ops_cleanup"], 4)
    names = await s.registry.ListDags(
        registry_pb2.ListDagsRequest(page=keys_pb2.PageRequest(order_by=["dag_display_name"]))
    )
    assert [d.display_name for d in names.dags] == [
        "Sales (daily)",
        "marketing",
        "ops_cleanup",
        "sales_hourly",
    ]
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await _ids(s, page=keys_pb2.PageRequest(order_by=["password"]))
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert dict(exc.value.trailing_metadata())[FIELD_METADATA_KEY] == "order_by"
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await _ids(s, tags_match_mode="some")
    assert exc.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_last_run_state_filter_order_and_latest_runs(catalog):
    s = catalog
    first = await s.trigger("sales_daily")
    await s.run_to_success(await s.dispatched("a", run_id=first.run_id))
    await s.wait_run_state("sales_daily", first.run_id, states_pb2.DAG_RUN_STATE_SUCCESS)
    second = await s.trigger("sales_daily", run_id="second")
    await s.dispatched("a", run_id="second")
    await s.trigger("ops_cleanup", run_id="only")
    await s.wait_run_state("ops_cleanup", "only", states_pb2.DAG_RUN_STATE_RUNNING)

    # The latest run (by id) decides, as in Airflow: sales_daily's is running now.
    assert await _ids(s, last_dag_run_state=[states_pb2.DAG_RUN_STATE_RUNNING]) == (
        ["ops_cleanup", "sales_daily"],
        2,
    )
    assert await _ids(s, last_dag_run_state=[states_pb2.DAG_RUN_STATE_SUCCESS]) == ([], 0)
    ordered = await _ids(s, page=keys_pb2.PageRequest(order_by=["-last_run_start_date"]))
    assert ordered[0][:2] == ["ops_cleanup", "sales_daily"]  # never-run DAGs sort last
    response = await s.registry.ListDags(
        registry_pb2.ListDagsRequest(dag_ids=["sales_daily"], latest_runs_limit=5)
    )
    assert [r.run_id for r in response.dags[0].latest_runs] == [second.run_id, first.run_id]


async def test_tenants_do_not_see_each_other(catalog, spec_builder):
    s = catalog
    registry, *_ = s.as_user("bob", "other-tenant", ["Admin"])
    assert (await registry.ListDags(registry_pb2.ListDagsRequest())).total_entries == 0
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await registry.GetDag(registry_pb2.GetDagRequest(dag_id="sales_daily"))
    assert exc.value.code() == grpc.StatusCode.NOT_FOUND
    await registry.RegisterDagVersion(
        registry_pb2.RegisterDagVersionRequest(spec=spec_builder("sales_daily", {"x": []}))
    )
    theirs = (await registry.GetDag(registry_pb2.GetDagRequest(dag_id="sales_daily"))).dag
    ours = (await s.registry.GetDag(registry_pb2.GetDagRequest(dag_id="sales_daily"))).dag
    assert theirs.latest_version.id != ours.latest_version.id


async def test_roles_are_enforced(catalog):
    viewer_registry, viewer_runs, *_ = catalog.as_user("vic", "default", ["Viewer"])
    assert (await viewer_registry.ListDags(registry_pb2.ListDagsRequest())).total_entries == 4
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await viewer_registry.UpdateDag(
            registry_pb2.UpdateDagRequest(dag_id="marketing", is_paused=False)
        )
    assert exc.value.code() == grpc.StatusCode.PERMISSION_DENIED
    anonymous, *_ = catalog.stubs(None)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await anonymous.ListDags(registry_pb2.ListDagsRequest())
    assert exc.value.code() == grpc.StatusCode.UNAUTHENTICATED
