"""dag_versions: immutable registered versions of a DAG, numbered from 1."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from ._field_filters import Column, FieldCondition, add_conditions
from ._sql import Filters

_SUMMARY = (
    "id, tenant_id, dag_id, version_number, spec_hash, bundle_name, bundle_version, created_at"
)

# Fields ListDagVersions filters on (Airflow's names) -> SQL.
VERSION_FILTER_COLUMNS = {
    "version_number": Column("version_number", "int"),
    "bundle_name": Column("nullif(bundle_name, '')", "text"),
    "bundle_version": Column("nullif(bundle_version, '')", "text"),
}


async def latest(*, conn: asyncpg.Connection, tenant_id: str, dag_id: str) -> asyncpg.Record | None:
    """The DAG's newest version (summary columns), or None."""
    return await conn.fetchrow(
        f"SELECT {_SUMMARY} FROM dag_versions WHERE tenant_id = $1 AND dag_id = $2 ORDER BY version_number DESC LIMIT 1",
        tenant_id,
        dag_id,
    )


async def insert_version(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    dag_id: str,
    version_number: int,
    spec_hash: str,
    spec: dict[str, Any],
    source: str,
    bundle_name: str,
    bundle_version: str,
) -> asyncpg.Record:
    """Store a new version; returns its summary columns."""
    return await conn.fetchrow(
        f"""
        INSERT INTO dag_versions (id, tenant_id, dag_id, version_number, spec_hash, spec, source, bundle_name, bundle_version)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        RETURNING {_SUMMARY}
        """,
        uuid.uuid4(),
        tenant_id,
        dag_id,
        version_number,
        spec_hash,
        spec,
        source,
        bundle_name,
        bundle_version,
    )


async def get_by_number(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    dag_id: str,
    version_number: int,
    with_spec: bool = False,
) -> asyncpg.Record | None:
    """A version by number (with its spec when asked), or None."""
    columns = f"{_SUMMARY}, spec" if with_spec else _SUMMARY
    return await conn.fetchrow(
        f"SELECT {columns} FROM dag_versions WHERE tenant_id = $1 AND dag_id = $2 AND version_number = $3",
        tenant_id,
        dag_id,
        version_number,
    )


async def get_by_id(
    *, conn: asyncpg.Connection, version_id: uuid.UUID, with_spec: bool = False
) -> asyncpg.Record | None:
    """A version by id (with its spec when asked), or None."""
    columns = f"{_SUMMARY}, spec" if with_spec else _SUMMARY
    return await conn.fetchrow(f"SELECT {columns} FROM dag_versions WHERE id = $1", version_id)


async def list_versions(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    dag_id: str,
    limit: int,
    offset: int,
    descending: bool = False,
    conditions: list[FieldCondition] | None = None,
) -> tuple[list[asyncpg.Record], int]:
    """A page of versions by version_number and the number matching."""
    f = Filters()
    f.add("tenant_id = ?", tenant_id)
    if dag_id:  # empty: every DAG's versions (Airflow's "~")
        f.add("dag_id = ?", dag_id)
    add_conditions(f, conditions or [], VERSION_FILTER_COLUMNS)
    total = await conn.fetchval(f"SELECT count(*) FROM dag_versions{f.where()}", *f.params)
    limit_, offset_ = f.param(limit), f.param(offset)
    rows = await conn.fetch(
        f"SELECT {_SUMMARY} FROM dag_versions{f.where()} "
        f"ORDER BY version_number {'DESC' if descending else 'ASC'}, dag_id LIMIT {limit_} OFFSET {offset_}",
        *f.params,
    )
    return rows, total
