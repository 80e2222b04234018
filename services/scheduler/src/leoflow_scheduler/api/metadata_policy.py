"""Access rules of the metadata services (Airflow's simple auth manager roles):
variables and connections need Op for reads and writes alike, the event log is
readable by Viewers, favorites are any user's own, and task secrets are for the
dispatcher's service token only (the servicer checks the principal's kind)."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_common.grpc import Access, ServiceRegistration
from leoflow_proto.scheduler.v1 import metadata_pb2_grpc

from ..domain.context import SchedulerContext
from ..metadata.crypto import SecretBox
from .connections import ConnectionServicer
from .event_logs import EventLogServicer
from .favorites import DagFavoriteServicer
from .task_secrets import TaskSecretsServicer
from .variables import VariableServicer

READ = Access(Capability.READ)
OPERATE = Access(Capability.OPERATE)
ADMIN = Access(Capability.ADMIN)

VARIABLE_POLICY = {
    method: OPERATE
    for method in ("GetVariable", "ListVariables", "CreateVariable", "UpdateVariable", "DeleteVariable", "BulkVariables")
}
CONNECTION_POLICY = {
    method: OPERATE
    for method in (
        "GetConnection", "ListConnections", "CreateConnection", "UpdateConnection", "DeleteConnection", "BulkConnections",
    )
}  # fmt: skip
EVENT_LOG_POLICY = {"GetEventLog": READ, "ListEventLogs": READ}
FAVORITE_POLICY = {"FavoriteDag": READ, "UnfavoriteDag": READ}
TASK_SECRETS_POLICY = {"GetTaskSecrets": ADMIN}


def metadata_registrations(ctx: SchedulerContext) -> list[ServiceRegistration]:
    """The metadata services with their access policies, sharing one SecretBox."""
    secret_key = ctx.settings.security.secret_key
    box = SecretBox(secret_key.get_secret_value() if secret_key else None)
    return [
        ServiceRegistration(
            metadata_pb2_grpc.add_VariableServiceServicer_to_server, VariableServicer(ctx, box),
            "leoflow.scheduler.v1.VariableService", VARIABLE_POLICY,
        ),
        ServiceRegistration(
            metadata_pb2_grpc.add_ConnectionServiceServicer_to_server, ConnectionServicer(ctx, box),
            "leoflow.scheduler.v1.ConnectionService", CONNECTION_POLICY,
        ),
        ServiceRegistration(
            metadata_pb2_grpc.add_EventLogServiceServicer_to_server, EventLogServicer(ctx),
            "leoflow.scheduler.v1.EventLogService", EVENT_LOG_POLICY,
        ),
        ServiceRegistration(
            metadata_pb2_grpc.add_DagFavoriteServiceServicer_to_server, DagFavoriteServicer(ctx),
            "leoflow.scheduler.v1.DagFavoriteService", FAVORITE_POLICY,
        ),
        ServiceRegistration(
            metadata_pb2_grpc.add_TaskSecretsServiceServicer_to_server, TaskSecretsServicer(ctx, box),
            "leoflow.scheduler.v1.TaskSecretsService", TASK_SECRETS_POLICY,
        ),
    ]  # fmt: skip
