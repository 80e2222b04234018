"""DagRegistryService: register compiled DAGs, read and change DAGs."""

from __future__ import annotations

from leoflow_common.errors import InvalidArgument
from leoflow_common.grpc import current_principal
from leoflow_common.states import DagRunState
from leoflow_proto.scheduler.v1 import registry_pb2, registry_pb2_grpc

from ..domain import registry
from ..domain.context import SchedulerContext
from ..metadata.favorites import is_favorite
from ..repository.dag_versions import VERSION_FILTER_COLUMNS
from ..repository.dags import DAG_FILTER_COLUMNS, DagQuery
from . import convert
from .common import caller_name, caller_tenant, from_enum, page, require
from .filters import field_conditions

TAG_MATCH_MODES = {"": False, "any": False, "all": True}


def caller_user() -> str | None:
    """The calling user's name (favorites are per user); None for services."""
    principal = current_principal()
    return principal.subject if principal is not None and principal.kind == "user" else None


class DagRegistryServicer(registry_pb2_grpc.DagRegistryServiceServicer):
    """DagRegistryService over `domain.registry`."""

    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx

    def _tenant(self, context) -> str:
        return caller_tenant(context, self._ctx.default_tenant)

    async def RegisterDagVersion(self, request, context):
        if not request.HasField("spec"):
            raise InvalidArgument("spec is required", field="spec")
        result = await registry.register_dag_version(
            self._ctx, self._tenant(context), request.spec, caller_name()
        )
        return registry_pb2.RegisterDagVersionResponse(
            dag_version=convert.dag_version(result.version), created=result.created
        )

    async def GetDag(self, request, context):
        tenant = self._tenant(context)
        row, version = await registry.get_dag_with_version(
            self._ctx, tenant, require(request.dag_id, "dag_id")
        )
        message = convert.dag(row, latest_version=version)
        message.is_favorite = await is_favorite(self._ctx, tenant, caller_user(), request.dag_id)
        return registry_pb2.GetDagResponse(dag=message)

    async def ListDags(self, request, context):
        limit, offset, order_by = page(request.page)
        if request.tags_match_mode not in TAG_MATCH_MODES:
            raise InvalidArgument("tags_match_mode must be 'any' or 'all'", field="tags_match_mode")
        if request.latest_runs_limit < 0:
            raise InvalidArgument(
                "latest_runs_limit must not be negative", field="latest_runs_limit"
            )
        query = DagQuery(
            conditions=field_conditions(request.filters, DAG_FILTER_COLUMNS),
            dag_id_pattern=request.dag_id_pattern,
            dag_display_name_pattern=request.dag_display_name_pattern,
            tags=list(request.tags),
            tags_match_all=TAG_MATCH_MODES[request.tags_match_mode],
            owners=list(request.owners),
            paused=request.paused if request.HasField("paused") else None,
            only_active=request.only_active,
            last_run_states=[
                from_enum(DagRunState.from_proto, s, "last_dag_run_state").value
                for s in request.last_dag_run_state
            ],
            dag_ids=list(request.dag_ids),
            has_import_errors=request.has_import_errors
            if request.HasField("has_import_errors")
            else None,
            is_favorite=request.is_favorite if request.HasField("is_favorite") else None,
            username=caller_user(),
            order_by=order_by,
            limit=limit,
            offset=offset,
        )
        result = await registry.list_dags(
            self._ctx, self._tenant(context), query, request.latest_runs_limit
        )
        return registry_pb2.ListDagsResponse(
            dags=[
                convert.dag(row, latest_runs=result.latest_runs.get(row["dag_id"], ()))
                for row in result.dags
            ],
            total_entries=result.total,
        )

    async def UpdateDag(self, request, context):
        require(request.dag_id, "dag_id")
        if not request.HasField("is_paused"):
            raise InvalidArgument("is_paused is required", field="is_paused")
        row = await registry.set_paused(
            self._ctx, self._tenant(context), request.dag_id, request.is_paused, caller_name()
        )
        return registry_pb2.UpdateDagResponse(dag=convert.dag(row))

    async def DeleteDag(self, request, context):
        await registry.delete_dag(
            self._ctx, self._tenant(context), require(request.dag_id, "dag_id"), caller_name()
        )
        return registry_pb2.DeleteDagResponse()

    async def ListDagVersions(self, request, context):
        limit, offset, order_by = page(request.page)
        rows, total = await registry.list_versions(
            self._ctx,
            self._tenant(context),
            # Empty or "~": every DAG's versions.
            "" if request.dag_id == "~" else request.dag_id,
            limit,
            offset,
            order_by,
            field_conditions(request.filters, VERSION_FILTER_COLUMNS),
        )
        return registry_pb2.ListDagVersionsResponse(
            dag_versions=[convert.dag_version(r) for r in rows], total_entries=total
        )

    async def GetDagVersion(self, request, context):
        if request.version_number < 0:
            raise InvalidArgument("version_number must not be negative", field="version_number")
        row = await registry.get_version(
            self._ctx,
            self._tenant(context),
            require(request.dag_id, "dag_id"),
            request.version_number,
        )
        return registry_pb2.GetDagVersionResponse(
            dag_version=convert.dag_version(row, with_spec=True)
        )
