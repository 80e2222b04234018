"""Bad input from outside gets a clear error naming the field, never INTERNAL."""

import grpc
import pytest
from leoflow_common.errors import FIELD_METADATA_KEY
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.scheduler.v1 import registry_pb2, runs_pb2, task_instances_pb2


async def test_malformed_requests(scheduler, spec_builder):
    await scheduler.register(spec_builder("target", {"a": []}))
    huge = runs_pb2.TriggerDagRunRequest(dag_id="target")
    huge.logical_date.seconds = 10**15
    cases = [
        (scheduler.runs.TriggerDagRun, huge, grpc.StatusCode.INVALID_ARGUMENT, "logical_date"),
        (
            scheduler.runs.TriggerDagRun,
            runs_pb2.TriggerDagRunRequest(dag_id="target", data_interval_start={"seconds": 1}),
            grpc.StatusCode.INVALID_ARGUMENT,
            "data_interval_start",
        ),
        (
            scheduler.runs.GetDagRun,
            runs_pb2.GetDagRunRequest(),
            grpc.StatusCode.INVALID_ARGUMENT,
            "key.dag_id",
        ),
        (
            scheduler.runs.ListDagRuns,
            runs_pb2.ListDagRunsRequest(states=[99]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "states",
        ),
        (
            scheduler.runs.ListDagRuns,
            runs_pb2.ListDagRunsRequest(page=keys_pb2.PageRequest(limit=-1)),
            grpc.StatusCode.INVALID_ARGUMENT,
            "page.limit",
        ),
        (
            scheduler.runs.ListDagRuns,
            runs_pb2.ListDagRunsRequest(page=keys_pb2.PageRequest(order_by=["-secret"])),
            grpc.StatusCode.INVALID_ARGUMENT,
            "order_by",
        ),
        (
            scheduler.runs.UpdateDagRun,
            runs_pb2.UpdateDagRunRequest(
                key=keys_pb2.DagRunKey(dag_id="target", run_id="nope"), state=3
            ),
            grpc.StatusCode.NOT_FOUND,
            None,
        ),
        (
            scheduler.tis.ListTaskInstances,
            task_instances_pb2.ListTaskInstancesRequest(
                page=keys_pb2.PageRequest(order_by=["nope"])
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "order_by",
        ),
        (
            scheduler.tis.ListTaskInstances,
            task_instances_pb2.ListTaskInstancesRequest(states=[1234]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "states",
        ),
        (
            scheduler.tis.GetTaskInstance,
            task_instances_pb2.GetTaskInstanceRequest(),
            grpc.StatusCode.INVALID_ARGUMENT,
            "key.dag_id",
        ),
        (
            scheduler.tis.ClearTaskInstances,
            task_instances_pb2.ClearTaskInstancesRequest(dag_id="missing"),
            grpc.StatusCode.NOT_FOUND,
            None,
        ),
        (
            scheduler.tis.ClearTaskInstances,
            task_instances_pb2.ClearTaskInstancesRequest(dag_id="target", run_id="nope"),
            grpc.StatusCode.NOT_FOUND,
            None,
        ),
        (
            scheduler.tis.ClearTaskInstances,
            task_instances_pb2.ClearTaskInstancesRequest(
                dag_id="target", run_on_latest_version=True
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "run_on_latest_version",
        ),
        (
            scheduler.registry.GetDagVersion,
            registry_pb2.GetDagVersionRequest(dag_id="target", version_number=7),
            grpc.StatusCode.NOT_FOUND,
            None,
        ),
        (
            scheduler.registry.ListDagVersions,
            registry_pb2.ListDagVersionsRequest(
                dag_id="target", page=keys_pb2.PageRequest(order_by=["bundle"])
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "order_by",
        ),
        (
            scheduler.registry.ListDags,
            registry_pb2.ListDagsRequest(last_dag_run_state=[42]),
            grpc.StatusCode.INVALID_ARGUMENT,
            "last_dag_run_state",
        ),
    ]
    for call, request, code, field in cases:
        with pytest.raises(grpc.aio.AioRpcError) as exc:
            await call(request)
        assert exc.value.code() == code, (request, exc.value.code(), exc.value.details())
        if field is not None:
            assert dict(exc.value.trailing_metadata() or ()).get(FIELD_METADATA_KEY) == field, (
                request,
                exc.value.details(),
            )
