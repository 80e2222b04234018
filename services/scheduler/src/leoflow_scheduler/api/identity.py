"""IdentityService: the gateway logs users in here (it mints the JWT itself)."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_common.errors import PermissionDenied
from leoflow_common.grpc import current_principal
from leoflow_proto.scheduler.v1 import identity_pb2, identity_pb2_grpc

from ..domain.context import SchedulerContext
from ..identity import users
from . import convert
from .common import caller_name, caller_tenant, require


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    """IdentityService over `identity.users`."""

    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx

    async def AuthenticateUser(self, request, context):
        tenant_id = caller_tenant(context, self._ctx.default_tenant, request.tenant_id)
        user = await users.authenticate(self._ctx, tenant_id, request.username, request.password)
        return identity_pb2.AuthenticateUserResponse(user=convert.user(user))

    async def GetUser(self, request, context):
        tenant_id = caller_tenant(context, self._ctx.default_tenant)
        username = require(request.username, "username")
        principal = current_principal()
        # Anyone may read their own account; other accounts are for admins.
        if principal is None or (
            principal.subject != username and not principal.can(Capability.ADMIN)
        ):
            raise PermissionDenied("Forbidden")
        user = await users.get_user(self._ctx, tenant_id, username)
        return identity_pb2.GetUserResponse(user=convert.user(user))

    async def SetUserPassword(self, request, context):
        tenant_id = caller_tenant(context, self._ctx.default_tenant)
        user = await users.set_password(
            self._ctx,
            tenant_id,
            request.username,
            request.password,
            list(request.roles),
            caller_name(),
        )
        return identity_pb2.SetUserPasswordResponse(user=convert.user(user))
