"""ImportErrorService: what DAG sources report about files that do not compile
and folders that are gone (see domain/import_errors.py), with its access policy:
sources need the right to register DAGs (EXECUTE); readers need READ."""

from __future__ import annotations

from leoflow_common.auth import Capability
from leoflow_common.errors import InvalidArgument
from leoflow_common.grpc import Access, ServiceRegistration
from leoflow_proto.scheduler.v1 import import_errors_pb2, import_errors_pb2_grpc

from ..domain import import_errors
from ..domain.context import SchedulerContext
from ..repository.import_errors import ErrorQuery, ErrorSelection
from .common import caller_name, caller_tenant, page

IMPORT_ERRORS_POLICY = {
    "RecordImportError": Access(Capability.EXECUTE),
    "ClearImportErrors": Access(Capability.EXECUTE),
    "ListImportErrors": Access(Capability.READ),
    "GetImportError": Access(Capability.READ),
    "DeregisterDag": Access(Capability.EXECUTE),
}


def import_error_message(row) -> import_errors_pb2.ImportError:
    """An ImportError message from an import_errors row."""
    message = import_errors_pb2.ImportError(
        id=row["id"],
        filename=row["filename"],
        bundle_name=row["bundle_name"],
        stack_trace=row["stack_trace"],
        dag_id=row["dag_id"],
    )
    message.timestamp.FromDatetime(row["timestamp"])
    return message


class ImportErrorServicer(import_errors_pb2_grpc.ImportErrorServiceServicer):
    """ImportErrorService over `domain.import_errors`."""

    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx

    def _tenant(self, context) -> str:
        return caller_tenant(context, self._ctx.default_tenant)

    async def RecordImportError(self, request, context):
        row = await import_errors.record(
            self._ctx,
            self._tenant(context),
            filename=request.filename,
            bundle_name=request.bundle_name,
            stack_trace=request.stack_trace,
            dag_id=request.dag_id,
            replaces_prefix=request.replaces_prefix,
        )
        return import_errors_pb2.RecordImportErrorResponse(import_error=import_error_message(row))

    async def ClearImportErrors(self, request, context):
        if request.keep_filenames and not request.all_but_kept:
            raise InvalidArgument("keep_filenames needs all_but_kept", field="keep_filenames")
        selection = ErrorSelection(
            filenames=list(request.filenames),
            prefix=request.filename_prefix,
            all_but=list(request.keep_filenames) if request.all_but_kept else None,
        )
        cleared = await import_errors.clear(self._ctx, self._tenant(context), request.bundle_name, selection)
        return import_errors_pb2.ClearImportErrorsResponse(cleared=cleared)

    async def ListImportErrors(self, request, context):
        limit, offset, order_by = page(request.page)
        query = ErrorQuery(
            filename_pattern=request.filename_pattern,
            filename_prefix_pattern=request.filename_prefix_pattern,
            bundle_name=request.bundle_name,
            order_by=order_by,
            limit=limit,
            offset=offset,
        )
        rows, total = await import_errors.list_page(self._ctx, self._tenant(context), query)
        return import_errors_pb2.ListImportErrorsResponse(
            import_errors=[import_error_message(r) for r in rows], total_entries=total
        )

    async def GetImportError(self, request, context):
        if request.id <= 0:
            raise InvalidArgument("id must be positive", field="id")
        row = await import_errors.get(self._ctx, self._tenant(context), request.id)
        return import_errors_pb2.GetImportErrorResponse(import_error=import_error_message(row))

    async def DeregisterDag(self, request, context):
        changed = await import_errors.deregister_dag(
            self._ctx, self._tenant(context), request.dag_id, caller_name()
        )
        return import_errors_pb2.DeregisterDagResponse(deregistered=changed)


def import_error_registrations(ctx: SchedulerContext) -> list[ServiceRegistration]:
    """ImportErrorService with its access policy."""
    return [
        ServiceRegistration(
            import_errors_pb2_grpc.add_ImportErrorServiceServicer_to_server,
            ImportErrorServicer(ctx),
            "leoflow.scheduler.v1.ImportErrorService",
            IMPORT_ERRORS_POLICY,
        )
    ]
