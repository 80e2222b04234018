"""Import errors and deregistration: what a DAG source (Lite's workspace watcher)
reports about the files it could not compile and the folders that are gone.

Invariant: dags.has_import_errors is true exactly while an import error names the
DAG; every change here refreshes the flags of the DAGs it touched, in the same
transaction."""

from __future__ import annotations

import asyncpg
from leoflow_common.errors import InvalidArgument, NotFound

from ..repository import audit_log, dag_sources, dags, import_errors, tenants
from ..repository.import_errors import ErrorQuery, ErrorSelection
from .context import SchedulerContext

MAX_FILENAME = 1024
# A traceback longer than this is cut (its end, where the error is, is kept).
MAX_STACK_TRACE = 64 * 1024


def import_error_not_found(error_id: int) -> NotFound:
    """Airflow's 404 for an import error."""
    return NotFound(f"The ImportError with import_error_id: `{error_id}` was not found")


def _check_filename(filename: str, field: str = "filename") -> None:
    if not filename or not filename.strip():
        raise InvalidArgument(f"{field} is required", field=field)
    if len(filename) > MAX_FILENAME or "\x00" in filename:
        raise InvalidArgument(f"{field} must be at most {MAX_FILENAME} characters, without NUL", field=field)


def _trimmed(stack_trace: str) -> str:
    text = stack_trace.replace("\x00", "")
    return text if len(text) <= MAX_STACK_TRACE else "…" + text[-MAX_STACK_TRACE:]


async def record(
    ctx: SchedulerContext,
    tenant_id: str,
    *,
    filename: str,
    bundle_name: str,
    stack_trace: str,
    dag_id: str,
    replaces_prefix: str,
) -> asyncpg.Record:
    """Record a file's error (replacing the file's previous one, and the other
    errors under `replaces_prefix`)."""
    _check_filename(filename)
    if not stack_trace.strip():
        raise InvalidArgument("stack_trace is required", field="stack_trace")
    if replaces_prefix and not filename.startswith(replaces_prefix):
        raise InvalidArgument("replaces_prefix must be a prefix of filename", field="replaces_prefix")
    async with ctx.transaction() as uow:
        conn = uow.conn
        await tenants.ensure_tenant(conn=conn, tenant_id=tenant_id)
        touched: list[str] = []
        if replaces_prefix:
            _, touched = await import_errors.delete_errors(
                conn=conn, tenant_id=tenant_id, bundle_name=bundle_name,
                selection=ErrorSelection([], prefix=replaces_prefix, spare=filename),
            )  # fmt: skip
        row = await import_errors.upsert_error(
            conn=conn, tenant_id=tenant_id, bundle_name=bundle_name, filename=filename,
            stack_trace=_trimmed(stack_trace), dag_id=dag_id,
        )  # fmt: skip
        await import_errors.refresh_dag_flags(
            conn=conn, tenant_id=tenant_id,
            dag_ids=sorted({*touched, dag_id, row["previous_dag_id"] or ""} - {""}),
        )
    return row


async def clear(
    ctx: SchedulerContext, tenant_id: str, bundle_name: str, selection: ErrorSelection
) -> int:
    """Clear the selected errors of one bundle; how many were cleared."""
    for name in [*selection.filenames, *(selection.all_but or [])]:
        _check_filename(name, "filenames")
    async with ctx.transaction() as uow:
        cleared, touched = await import_errors.delete_errors(
            conn=uow.conn, tenant_id=tenant_id, bundle_name=bundle_name, selection=selection
        )
        await import_errors.refresh_dag_flags(conn=uow.conn, tenant_id=tenant_id, dag_ids=touched)
    return cleared


async def get(ctx: SchedulerContext, tenant_id: str, error_id: int) -> asyncpg.Record:
    """One import error; NotFound otherwise."""
    async with ctx.pool.acquire() as conn:
        row = await import_errors.get_error(conn=conn, tenant_id=tenant_id, error_id=error_id)
    if row is None:
        raise import_error_not_found(error_id)
    return row


async def list_page(
    ctx: SchedulerContext, tenant_id: str, query: ErrorQuery
) -> tuple[list[asyncpg.Record], int]:
    """A page of import errors; InvalidArgument("order_by") for an unknown sort key."""
    async with ctx.pool.acquire() as conn:
        try:
            return await import_errors.list_errors(conn=conn, tenant_id=tenant_id, query=query)
        except KeyError as exc:
            raise InvalidArgument(
                f"Ordering with '{exc.args[0]}' is disallowed or the attribute does not exist on the model",
                field="order_by",
            ) from exc


async def deregister_dag(ctx: SchedulerContext, tenant_id: str, dag_id: str, actor: str | None) -> bool:
    """Mark the DAG stale and clear its import errors; False if it already was stale.
    NotFound for a DAG never registered."""
    if not dag_id:
        raise InvalidArgument("dag_id is required", field="dag_id")
    async with ctx.transaction() as uow:
        conn = uow.conn
        if await dags.get_dag(conn=conn, tenant_id=tenant_id, dag_id=dag_id, for_update=True) is None:
            raise NotFound(f"DAG with dag_id: '{dag_id}' not found")
        changed = await dag_sources.mark_stale(conn=conn, tenant_id=tenant_id, dag_id=dag_id)
        await import_errors.delete_errors_of_dag(conn=conn, tenant_id=tenant_id, dag_id=dag_id)
        await import_errors.refresh_dag_flags(conn=conn, tenant_id=tenant_id, dag_ids=[dag_id])
        if changed:
            await audit_log.write_event(
                conn=conn, tenant_id=tenant_id, event="deregister_dag", owner=actor, dag_id=dag_id
            )
    return changed
