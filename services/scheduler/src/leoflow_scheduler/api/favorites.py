"""DagFavoriteService: the calling user's favorite DAGs."""

from __future__ import annotations

from leoflow_common.errors import PermissionDenied
from leoflow_common.grpc import current_principal
from leoflow_proto.scheduler.v1 import metadata_pb2, metadata_pb2_grpc

from ..domain.context import SchedulerContext
from ..metadata import favorites
from .common import caller_tenant, require


def calling_user() -> str:
    """The user making the call: favorites belong to users, not to services."""
    principal = current_principal()
    if principal is None or principal.kind != "user":
        raise PermissionDenied("favorites belong to users; call with a user's token")
    return principal.subject


class DagFavoriteServicer(metadata_pb2_grpc.DagFavoriteServiceServicer):
    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx

    async def FavoriteDag(self, request, context):
        tenant = caller_tenant(context, self._ctx.default_tenant)
        await favorites.favorite_dag(self._ctx, tenant, calling_user(), require(request.dag_id, "dag_id"))
        return metadata_pb2.FavoriteDagResponse()

    async def UnfavoriteDag(self, request, context):
        tenant = caller_tenant(context, self._ctx.default_tenant)
        await favorites.unfavorite_dag(self._ctx, tenant, calling_user(), require(request.dag_id, "dag_id"))
        return metadata_pb2.UnfavoriteDagResponse()
