"""import_errors: one row per (tenant, bundle, file) that a DAG source could not
compile. Writers keep dags.has_import_errors current through
`refresh_dag_flags`, in the same transaction as the change."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg

from ._search import add_pattern, add_prefix_pattern
from ._sql import Filters, like_escape, order_clause

# Airflow's order_by names for import errors -> SQL ("stacktrace" is Airflow's alias).
ORDER_COLUMNS = {
    "id": "id",
    "import_error_id": "id",
    "timestamp": "timestamp",
    "filename": "filename",
    "bundle_name": "bundle_name",
    "stacktrace": "stack_trace",
    "stack_trace": "stack_trace",
}


async def upsert_error(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    bundle_name: str,
    filename: str,
    stack_trace: str,
    dag_id: str,
) -> asyncpg.Record:
    """Record the file's error, replacing its previous one (same id, new timestamp).
    The row carries `previous_dag_id`: the DAG the replaced error named (or None)."""
    return await conn.fetchrow(
        """
        WITH previous AS (
            SELECT dag_id FROM import_errors
            WHERE tenant_id = $1 AND bundle_name = $2 AND filename = $3 FOR UPDATE
        )
        INSERT INTO import_errors (tenant_id, bundle_name, filename, stack_trace, dag_id)
        VALUES ($1, $2, $3, $4, $5)
        ON CONFLICT (tenant_id, bundle_name, filename) DO UPDATE
            SET stack_trace = EXCLUDED.stack_trace, dag_id = EXCLUDED.dag_id, timestamp = now()
        RETURNING *, (SELECT dag_id FROM previous) AS previous_dag_id
        """,
        tenant_id,
        bundle_name,
        filename,
        stack_trace,
        dag_id,
    )


@dataclass
class ErrorSelection:
    """Which errors of one bundle a clear applies to (any of the criteria)."""

    filenames: list[str]
    prefix: str = ""
    # Everything of the bundle except these files (a source's full resync).
    all_but: list[str] | None = None
    # Never cleared, whatever the criteria (the file just recorded).
    spare: str | None = None


async def delete_errors(
    *, conn: asyncpg.Connection, tenant_id: str, bundle_name: str, selection: ErrorSelection
) -> tuple[int, list[str]]:
    """Delete the selected errors: (how many, the dag_ids they named, to refresh)."""
    f = Filters()
    f.add("tenant_id = ?", tenant_id)
    f.add("bundle_name = ?", bundle_name)
    criteria = []
    if selection.filenames:
        criteria.append(f"filename = ANY({f.param(selection.filenames)}::text[])")
    if selection.prefix:
        criteria.append(f"filename LIKE {f.param(like_escape(selection.prefix) + '%')}")
    if selection.all_but is not None:
        criteria.append(f"NOT (filename = ANY({f.param(selection.all_but)}::text[]))")
    if not criteria:
        return 0, []
    f.conditions.append("(" + " OR ".join(criteria) + ")")
    if selection.spare is not None:
        f.add("filename <> ?", selection.spare)
    rows = await conn.fetch(f"DELETE FROM import_errors{f.where()} RETURNING dag_id", *f.params)
    return len(rows), sorted({row["dag_id"] for row in rows if row["dag_id"]})


async def delete_errors_of_dag(*, conn: asyncpg.Connection, tenant_id: str, dag_id: str) -> int:
    """Delete every error naming the DAG; how many there were."""
    rows = await conn.fetch(
        "DELETE FROM import_errors WHERE tenant_id = $1 AND dag_id = $2 RETURNING id", tenant_id, dag_id
    )
    return len(rows)


async def refresh_dag_flags(*, conn: asyncpg.Connection, tenant_id: str, dag_ids: list[str]) -> None:
    """Set dags.has_import_errors of these DAGs to whether an error names them."""
    if not dag_ids:
        return
    await conn.execute(
        """
        UPDATE dags d SET has_import_errors = EXISTS (
            SELECT 1 FROM import_errors e WHERE e.tenant_id = d.tenant_id AND e.dag_id = d.dag_id
        )
        WHERE d.tenant_id = $1 AND d.dag_id = ANY($2::text[])
        """,
        tenant_id,
        dag_ids,
    )


async def get_error(*, conn: asyncpg.Connection, tenant_id: str, error_id: int) -> asyncpg.Record | None:
    """One error of the tenant, or None."""
    return await conn.fetchrow(
        "SELECT * FROM import_errors WHERE tenant_id = $1 AND id = $2", tenant_id, error_id
    )


@dataclass
class ErrorQuery:
    """ListImportErrors filters (see ListImportErrorsRequest)."""

    filename_pattern: str = ""
    filename_prefix_pattern: str = ""
    bundle_name: str = ""
    order_by: list[str] | None = None
    limit: int = 100
    offset: int = 0


async def list_errors(
    *, conn: asyncpg.Connection, tenant_id: str, query: ErrorQuery
) -> tuple[list[asyncpg.Record], int]:
    """A page of errors and how many match; KeyError naming an unknown order_by."""
    f = Filters()
    f.add("tenant_id = ?", tenant_id)
    add_pattern(f, "filename", query.filename_pattern)
    add_prefix_pattern(f, "filename", query.filename_prefix_pattern)
    if query.bundle_name:
        f.add("bundle_name = ?", query.bundle_name)
    order = order_clause(query.order_by or [], ORDER_COLUMNS, ["id"], "id ASC")
    total = await conn.fetchval(f"SELECT count(*) FROM import_errors{f.where()}", *f.params)
    limit, offset = f.param(query.limit), f.param(query.offset)
    rows = await conn.fetch(
        f"SELECT * FROM import_errors{f.where()}{order} LIMIT {limit} OFFSET {offset}", *f.params
    )
    return rows, total
