"""ImportErrorService: files a DAG source could not compile, the DAGs'
has_import_errors flag kept current, and deregistration (is_stale)."""

import grpc
import pytest
from leoflow_common.grpc import client_channel, static_token
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import import_errors_pb2 as ie
from leoflow_proto.scheduler.v1 import import_errors_pb2_grpc, registry_pb2

from ..conftest import CODEC


@pytest.fixture
async def errors(scheduler):
    channel = client_channel(f"127.0.0.1:{scheduler.app.grpc_port}", static_token(CODEC.mint_service("lite")))
    yield import_errors_pb2_grpc.ImportErrorServiceStub(channel)
    await channel.close()


async def dag_flags(scheduler, dag_id):
    dag = (await scheduler.registry.GetDag(registry_pb2.GetDagRequest(dag_id=dag_id))).dag
    return dag.has_import_errors, dag.is_stale


async def test_an_error_flags_its_dag_until_cleared(scheduler, errors, spec_builder):
    await scheduler.register(spec_builder("sales"))
    recorded = (
        await errors.RecordImportError(
            ie.RecordImportErrorRequest(
                filename="sales/dag.py", bundle_name="dags-folder", dag_id="sales",
                stack_trace="dag.py:3: SyntaxError: invalid syntax", replaces_prefix="sales/",
            )
        )
    ).import_error
    assert recorded.id > 0 and recorded.HasField("timestamp")
    assert await dag_flags(scheduler, "sales") == (True, False)
    listed = await scheduler.registry.ListDags(registry_pb2.ListDagsRequest(has_import_errors=True))
    assert [d.dag_id for d in listed.dags] == ["sales"]

    # The folder's error moves to another file: the first one is replaced, not kept.
    moved = (
        await errors.RecordImportError(
            ie.RecordImportErrorRequest(
                filename="sales/leoflow.yaml", bundle_name="dags-folder", dag_id="sales",
                stack_trace="leoflow.yaml:2: dependencies: unknown", replaces_prefix="sales/",
            )
        )
    ).import_error
    page = await errors.ListImportErrors(ie.ListImportErrorsRequest())
    assert [e.filename for e in page.import_errors] == ["sales/leoflow.yaml"] and page.total_entries == 1
    got = (await errors.GetImportError(ie.GetImportErrorRequest(id=moved.id))).import_error
    assert got.stack_trace == "leoflow.yaml:2: dependencies: unknown" and got.dag_id == "sales"

    cleared = await errors.ClearImportErrors(ie.ClearImportErrorsRequest(bundle_name="dags-folder", filename_prefix="sales/"))
    assert cleared.cleared == 1
    assert await dag_flags(scheduler, "sales") == (False, False)
    assert (await errors.ListImportErrors(ie.ListImportErrorsRequest())).total_entries == 0


async def test_a_prefix_is_literal_and_resync_keeps_only_named_files(scheduler, errors):
    for name in ("a_b/dag.py", "axb/dag.py", "c/dag.py"):
        await errors.RecordImportError(ie.RecordImportErrorRequest(filename=name, bundle_name="b", stack_trace="boom"))
    await errors.ClearImportErrors(ie.ClearImportErrorsRequest(bundle_name="b", filename_prefix="a_b/"))
    names = [e.filename for e in (await errors.ListImportErrors(ie.ListImportErrorsRequest())).import_errors]
    assert names == ["axb/dag.py", "c/dag.py"]  # "_" is not a wildcard
    await errors.ClearImportErrors(ie.ClearImportErrorsRequest(bundle_name="b", keep_filenames=["c/dag.py"], all_but_kept=True))
    names = [e.filename for e in (await errors.ListImportErrors(ie.ListImportErrorsRequest())).import_errors]
    assert names == ["c/dag.py"]


async def test_list_filters_order_and_paging(scheduler, errors):
    for name in ("etl/dag.py", "ml/dag.py", "etl_daily/dag.py"):
        await errors.RecordImportError(ie.RecordImportErrorRequest(filename=name, bundle_name="b", stack_trace=f"{name} broke"))
    page = await errors.ListImportErrors(ie.ListImportErrorsRequest(filename_pattern="etl"))
    assert sorted(e.filename for e in page.import_errors) == ["etl/dag.py", "etl_daily/dag.py"]
    page = await errors.ListImportErrors(
        ie.ListImportErrorsRequest(page=keys_pb2.PageRequest(limit=2, order_by=["-filename"]))
    )
    assert [e.filename for e in page.import_errors] == ["ml/dag.py", "etl_daily/dag.py"] and page.total_entries == 3
    page = await errors.ListImportErrors(ie.ListImportErrorsRequest(filename_prefix_pattern="ml|etl_daily"))
    assert sorted(e.filename for e in page.import_errors) == ["etl_daily/dag.py", "ml/dag.py"]
    with pytest.raises(grpc.aio.AioRpcError) as bad:
        await errors.ListImportErrors(ie.ListImportErrorsRequest(page=keys_pb2.PageRequest(order_by=["nope"])))
    assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT


async def test_bad_input_and_unknown_ids(scheduler, errors):
    for request in (
        ie.RecordImportErrorRequest(filename="", stack_trace="x"),
        ie.RecordImportErrorRequest(filename="a/dag.py", stack_trace=" "),
        ie.RecordImportErrorRequest(filename="a/dag.py", stack_trace="x", replaces_prefix="b/"),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as bad:
            await errors.RecordImportError(request)
        assert bad.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await errors.GetImportError(ie.GetImportErrorRequest(id=424242))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await errors.DeregisterDag(ie.DeregisterDagRequest(dag_id="never_registered"))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


async def test_deregistering_makes_the_dag_stale_until_registered_again(scheduler, errors, spec_builder):
    spec = spec_builder("gone")
    await scheduler.register(spec)
    await errors.RecordImportError(ie.RecordImportErrorRequest(filename="gone/dag.py", dag_id="gone", stack_trace="x"))
    assert (await errors.DeregisterDag(ie.DeregisterDagRequest(dag_id="gone"))).deregistered
    assert not (await errors.DeregisterDag(ie.DeregisterDagRequest(dag_id="gone"))).deregistered
    assert await dag_flags(scheduler, "gone") == (False, True)
    assert (await errors.ListImportErrors(ie.ListImportErrorsRequest())).total_entries == 0
    active = await scheduler.registry.ListDags(registry_pb2.ListDagsRequest(only_active=True))
    assert "gone" not in [d.dag_id for d in active.dags]

    spec.description = "back"
    assert (await scheduler.register(spec)).created
    assert await dag_flags(scheduler, "gone") == (False, False)


async def test_viewers_read_but_cannot_report(scheduler):
    channel = client_channel(
        f"127.0.0.1:{scheduler.app.grpc_port}", static_token(CODEC.mint_user("v", "default", ["Viewer"]))
    )
    stub = import_errors_pb2_grpc.ImportErrorServiceStub(channel)
    try:
        assert (await stub.ListImportErrors(ie.ListImportErrorsRequest())).total_entries == 0
        with pytest.raises(grpc.aio.AioRpcError) as denied:
            await stub.RecordImportError(ie.RecordImportErrorRequest(filename="a/dag.py", stack_trace="x"))
        assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    finally:
        await channel.close()
