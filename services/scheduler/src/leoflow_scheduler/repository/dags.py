"""dags: one row per DAG with its live flags (is_paused, is_stale), a copy of its
latest version's summary, and a copy of its latest run (by id, as Airflow's
ListDags does), so listing needs no join."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ._field_filters import Column, FieldCondition, add_conditions
from ._sql import Filters, order_clause
from .favorites import FAVORITE_EXISTS

# Columns ListDags may sort on (Airflow's names) -> SQL.
DAG_ORDER_COLUMNS = {
    "dag_id": "dag_id",
    "dag_display_name": "display_name",
    "next_dagrun": "next_dagrun_logical_date",
    "last_run_state": "last_run_state",
    "last_run_start_date": "last_run_start_date",
}


_LATEST_VERSION = "(SELECT {column} FROM dag_versions fv WHERE fv.id = dags.latest_version_id)"
_LATEST_RUN = "(SELECT {column} FROM dag_runs fr WHERE fr.id = dags.last_run_id)"
# Airflow's timetable type names (Timetable.type_name) for Leoflow's schedule kinds.
_TIMETABLE_TYPE = (
    "CASE " + _LATEST_VERSION.format(column="spec->'schedule'->>'kind'")
    + " WHEN 'SCHEDULE_KIND_CRON' THEN 'CronTriggerTimetable'"
    " WHEN 'SCHEDULE_KIND_INTERVAL' THEN 'DeltaTriggerTimetable'"
    " WHEN 'SCHEDULE_KIND_ONCE' THEN 'OnceTimetable'"
    " WHEN 'SCHEDULE_KIND_CONTINUOUS' THEN 'ContinuousTimetable'"
    " ELSE 'NullTimetable' END"
)
# Fields ListDags filters on with FieldFilters (Airflow's names) -> SQL. The
# dag_run_* fields are those of the DAG's latest run (by id), as Airflow's.
DAG_FILTER_COLUMNS = {
    "dag_id": Column("dag_id", "text"),
    "dag_display_name": Column("display_name", "text"),
    "bundle_name": Column(_LATEST_VERSION.format(column="nullif(bundle_name, '')"), "text"),
    "bundle_version": Column(_LATEST_VERSION.format(column="nullif(bundle_version, '')"), "text"),
    "timetable_type": Column(_TIMETABLE_TYPE, "text"),
    "dag_run_start_date": Column("last_run_start_date", "time"),
    "dag_run_end_date": Column(_LATEST_RUN.format(column="end_date"), "time"),
    "dag_run_state": Column("last_run_state", "text"),
}


async def get_dag(
    *, conn: asyncpg.Connection, tenant_id: str, dag_id: str, for_update: bool = False
) -> asyncpg.Record | None:
    """The DAG row (locked for the transaction when `for_update`), or None."""
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"SELECT * FROM dags WHERE tenant_id = $1 AND dag_id = $2{lock}", tenant_id, dag_id
    )


async def is_paused(*, conn: asyncpg.Connection, tenant_id: str, dag_id: str) -> bool:
    """Whether the DAG is paused (False for an unknown DAG)."""
    return bool(
        await conn.fetchval(
            "SELECT is_paused FROM dags WHERE tenant_id = $1 AND dag_id = $2", tenant_id, dag_id
        )
    )


async def insert_dag(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    dag_id: str,
    is_paused: bool,
    summary: dict[str, Any],
) -> None:
    """Create the DAG unless it exists (its live flags are never overwritten)."""
    columns = ["tenant_id", "dag_id", "is_paused", *summary]
    values = [tenant_id, dag_id, is_paused, *summary.values()]
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    await conn.execute(
        f"INSERT INTO dags ({', '.join(columns)}) VALUES ({placeholders}) ON CONFLICT DO NOTHING",
        *values,
    )


async def update_summary(
    *, conn: asyncpg.Connection, tenant_id: str, dag_id: str, summary: dict[str, Any]
) -> None:
    """Copy a new latest version's summary onto the DAG (and un-stale it)."""
    assignments = ", ".join(f"{column} = ${i}" for i, column in enumerate(summary, start=3))
    await conn.execute(
        f"UPDATE dags SET {assignments}, is_stale = false, updated_at = now() WHERE tenant_id = $1 AND dag_id = $2",
        tenant_id,
        dag_id,
        *summary.values(),
    )


async def touch_parsed(*, conn: asyncpg.Connection, tenant_id: str, dag_id: str) -> None:
    """Record that the DAG was registered again unchanged."""
    await conn.execute(
        "UPDATE dags SET last_parsed_time = now(), is_stale = false WHERE tenant_id = $1 AND dag_id = $2",
        tenant_id,
        dag_id,
    )


async def set_paused(
    *, conn: asyncpg.Connection, tenant_id: str, dag_id: str, is_paused: bool
) -> None:
    """Set the DAG's is_paused flag."""
    await conn.execute(
        "UPDATE dags SET is_paused = $3, updated_at = now() WHERE tenant_id = $1 AND dag_id = $2",
        tenant_id,
        dag_id,
        is_paused,
    )


async def delete_dag(*, conn: asyncpg.Connection, tenant_id: str, dag_id: str) -> None:
    """Delete the DAG with its versions, runs and task instances (cascades)."""
    await conn.execute(
        "DELETE FROM dag_runs WHERE tenant_id = $1 AND dag_id = $2", tenant_id, dag_id
    )
    await conn.execute(
        "DELETE FROM dag_versions WHERE tenant_id = $1 AND dag_id = $2", tenant_id, dag_id
    )
    await conn.execute("DELETE FROM dags WHERE tenant_id = $1 AND dag_id = $2", tenant_id, dag_id)


async def sync_last_run(*, conn: asyncpg.Connection, tenant_id: str, dag_id: str) -> None:
    """Refresh the DAG's copy of its latest run (the one with the highest id)."""
    await conn.execute(
        """
        UPDATE dags SET (last_run_id, last_run_state, last_run_start_date) = (
            SELECT id, state, start_date FROM dag_runs
            WHERE tenant_id = $1 AND dag_id = $2 ORDER BY id DESC LIMIT 1
        )
        WHERE tenant_id = $1 AND dag_id = $2
        """,
        tenant_id,
        dag_id,
    )


@dataclass
class DagQuery:
    """ListDags filters (see ListDagsRequest)."""

    dag_id_pattern: str = ""
    dag_display_name_pattern: str = ""
    tags: list[str] = field(default_factory=list)
    tags_match_all: bool = False
    owners: list[str] = field(default_factory=list)
    paused: bool | None = None
    only_active: bool = False
    last_run_states: list[str] = field(default_factory=list)
    dag_ids: list[str] = field(default_factory=list)
    has_import_errors: bool | None = None
    is_favorite: bool | None = None
    # The user whose favorites is_favorite (filter and column) refers to.
    username: str | None = None
    conditions: list[FieldCondition] = field(default_factory=list)
    order_by: list[str] = field(default_factory=list)
    limit: int = 100
    offset: int = 0


def _dag_filters(tenant_id: str, query: DagQuery) -> Filters:
    f = Filters()
    f.add("tenant_id = ?", tenant_id)
    if query.dag_id_pattern:
        # Airflow's dag_id_pattern: a case-insensitive LIKE, wrapped in "%".
        f.add("dag_id ILIKE ?", f"%{query.dag_id_pattern}%")
    if query.dag_display_name_pattern:
        f.add("display_name ILIKE ?", f"%{query.dag_display_name_pattern}%")
    if query.tags:
        f.add("tags @> ?::text[]" if query.tags_match_all else "tags && ?::text[]", query.tags)
    if query.owners:
        f.add("owners && ?::text[]", query.owners)
    if query.paused is not None:
        f.add("is_paused = ?", query.paused)
    if query.only_active:
        f.add("NOT is_stale")
    if query.last_run_states:
        f.add("last_run_state = ANY(?::text[])", query.last_run_states)
    if query.dag_ids:
        f.add("dag_id = ANY(?::text[])", query.dag_ids)
    if query.has_import_errors is not None:
        f.add("has_import_errors = ?", query.has_import_errors)
    if query.is_favorite is not None:
        if query.username:
            condition = FAVORITE_EXISTS.format(param="?")
            f.add(condition if query.is_favorite else f"NOT {condition}", query.username)
        elif query.is_favorite:
            f.add("false")  # a caller that is not a user has no favorites
    add_conditions(f, query.conditions, DAG_FILTER_COLUMNS)
    return f


async def list_dags(
    *, conn: asyncpg.Connection, tenant_id: str, query: DagQuery
) -> tuple[list[asyncpg.Record], int]:
    """A page of DAGs and the number of DAGs matching the filters."""
    f = _dag_filters(tenant_id, query)
    order = order_clause(query.order_by, DAG_ORDER_COLUMNS, ["dag_id"], "dag_id ASC")
    total = await conn.fetchval(f"SELECT count(*) FROM dags{f.where()}", *f.params)
    limit, offset = f.param(query.limit), f.param(query.offset)
    favorite = FAVORITE_EXISTS.format(param=f.param(query.username)) if query.username else "false"
    rows = await conn.fetch(
        f"SELECT *, {favorite} AS is_favorite FROM dags{f.where()}{order} LIMIT {limit} OFFSET {offset}",
        *f.params,
    )
    return rows, total
