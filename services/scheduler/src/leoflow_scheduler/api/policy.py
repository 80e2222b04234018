"""Who may call what: every RPC of every served service has an access rule
(the shared server refuses to start otherwise)."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_common.grpc import Access, ServiceRegistration
from leoflow_proto.scheduler.v1 import (
    identity_pb2_grpc,
    registry_pb2_grpc,
    runs_pb2_grpc,
    task_instances_pb2_grpc,
)

from ..domain.context import SchedulerContext
from .identity import IdentityServicer
from .import_errors import import_error_registrations
from .policy_scheduling import scheduling_registrations
from .registry import DagRegistryServicer
from .runs import DagRunServicer
from .task_instances import TaskInstanceServicer

READ = Access(Capability.READ)
EXECUTE = Access(Capability.EXECUTE)
ADMIN = Access(Capability.ADMIN)

REGISTRY_POLICY = {
    "RegisterDagVersion": EXECUTE,
    "GetDag": READ,
    "ListDags": READ,
    "UpdateDag": EXECUTE,
    "DeleteDag": EXECUTE,
    "ListDagVersions": READ,
    "GetDagVersion": READ,
}
RUNS_POLICY = {
    "TriggerDagRun": EXECUTE,
    "GetDagRun": READ,
    "ListDagRuns": READ,
    "CountDagRunsByState": READ,
    "UpdateDagRun": EXECUTE,
    "DeleteDagRun": EXECUTE,
}
TASK_INSTANCES_POLICY = {
    "ListTaskInstances": READ,
    "GetTaskInstance": READ,
    "ListTaskInstanceTries": READ,
    "UpdateTaskInstanceState": EXECUTE,
    "ClearTaskInstances": EXECUTE,
}
# AuthenticateUser is called by the gateway with its service token (services hold ADMIN).
IDENTITY_POLICY = {"AuthenticateUser": ADMIN, "GetUser": READ, "SetUserPassword": ADMIN}


def registrations(ctx: SchedulerContext) -> list[ServiceRegistration]:
    """The scheduler's four services with their access policies."""
    return [
        ServiceRegistration(
            registry_pb2_grpc.add_DagRegistryServiceServicer_to_server, DagRegistryServicer(ctx),
            "leoflow.scheduler.v1.DagRegistryService", REGISTRY_POLICY,
        ),
        ServiceRegistration(
            runs_pb2_grpc.add_DagRunServiceServicer_to_server, DagRunServicer(ctx),
            "leoflow.scheduler.v1.DagRunService", RUNS_POLICY,
        ),
        ServiceRegistration(
            task_instances_pb2_grpc.add_TaskInstanceServiceServicer_to_server, TaskInstanceServicer(ctx),
            "leoflow.scheduler.v1.TaskInstanceService", TASK_INSTANCES_POLICY,
        ),
        ServiceRegistration(
            identity_pb2_grpc.add_IdentityServiceServicer_to_server, IdentityServicer(ctx),
            "leoflow.scheduler.v1.IdentityService", IDENTITY_POLICY,
        ),
        *scheduling_registrations(ctx),
        *import_error_registrations(ctx),
    ]  # fmt: skip
