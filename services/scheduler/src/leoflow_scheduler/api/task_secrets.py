"""TaskSecretsService: decrypted variables and connections for a task process.

Only a service principal may call (the dispatcher, forwarding its agent's request
with the tenant from the agent's token); a user — even an Admin — never gets a
secret back from any API, as in Airflow."""

from __future__ import annotations

from leoflow_common.errors import PermissionDenied
from leoflow_common.grpc import current_principal
from leoflow_proto.scheduler.v1 import metadata_pb2, metadata_pb2_grpc

from ..domain.context import SchedulerContext
from ..metadata.crypto import SecretBox
from ..metadata.task_secrets import task_secrets
from . import metadata_convert as convert
from .common import caller_tenant, require


class TaskSecretsServicer(metadata_pb2_grpc.TaskSecretsServiceServicer):
    def __init__(self, ctx: SchedulerContext, box: SecretBox):
        self._ctx = ctx
        self._box = box

    async def GetTaskSecrets(self, request, context):
        principal = current_principal()
        if principal is None or principal.kind != "service":
            raise PermissionDenied("only the dispatcher may fetch a task's secrets")
        tenant = caller_tenant(context, self._ctx.default_tenant, require(request.tenant_id, "tenant_id"))
        variables, connections = await task_secrets(self._ctx, self._box, tenant)
        return metadata_pb2.GetTaskSecretsResponse(
            variables=[convert.task_variable(v) for v in variables],
            connections=[convert.task_connection(c) for c in connections],
        )
