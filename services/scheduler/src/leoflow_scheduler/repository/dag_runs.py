"""dag_runs: one row per DagRun. `lock_run` (SELECT ... FOR UPDATE) is taken at
the start of every transaction that changes a run's task instances, so that
decisions about one run are serialized."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from ._field_filters import Column, FieldCondition, add_conditions
from ._sql import Filters, like_escape, order_clause

# Columns ListDagRuns may sort on (Airflow's names) -> SQL.
RUN_ORDER_COLUMNS = {
    "id": "r.id",
    "state": "r.state",
    "dag_id": "r.dag_id",
    "run_id": "r.run_id",
    "dag_run_id": "r.run_id",
    "logical_date": "r.logical_date",
    "run_after": "r.run_after",
    "start_date": "r.start_date",
    "end_date": "r.end_date",
    "updated_at": "r.updated_at",
    "queued_at": "r.queued_at",
    "data_interval_start": "r.data_interval_start",
    "data_interval_end": "r.data_interval_end",
    "last_scheduling_decision": "r.last_scheduling_decision",
    "run_type": "r.run_type",
    "duration": "(r.end_date - r.start_date)",
    "conf": "r.conf::text",
    "triggering_user_name": "r.triggering_user_name",
}

# Fields ListDagRuns filters on with FieldFilters (Airflow's names) -> SQL.
_RUN_VERSION = "(SELECT {column} FROM dag_versions fv WHERE fv.id = r.dag_version_id)"
RUN_FILTER_COLUMNS = {
    **{name: Column(f"r.{name}", "time") for name in ("run_after", "logical_date", "updated_at")},
    # As Airflow: a run not started (or not ended) yet counts as starting (ending) now.
    **{name: Column(f"coalesce(r.{name}, now())", "time") for name in ("start_date", "end_date")},
    "duration": Column("EXTRACT(EPOCH FROM (r.end_date - r.start_date))", "number"),
    "conf": Column("r.conf", "json"),
    "dag_version": Column(_RUN_VERSION.format(column="version_number"), "int"),
    "bundle_version": Column(_RUN_VERSION.format(column="nullif(bundle_version, '')"), "text"),
    "run_id": Column("r.run_id", "text"),
    "dag_id": Column("r.dag_id", "text"),
    "triggering_user_name": Column("r.triggering_user_name", "text"),
}

_SELECT = """
SELECT r.*, v.version_number AS dag_version_number, v.spec_hash AS dag_version_hash,
       v.created_at AS dag_version_created_at, v.bundle_name AS dag_version_bundle_name,
       v.bundle_version AS dag_version_bundle_version
FROM dag_runs r LEFT JOIN dag_versions v ON v.id = r.dag_version_id
"""


async def insert_run(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    dag_id: str,
    run_id: str,
    run_type: str,
    logical_date: datetime | None,
    data_interval_start: datetime | None,
    data_interval_end: datetime | None,
    run_after: datetime,
    queued_at: datetime,
    conf: dict[str, Any],
    note: str | None,
    triggered_by: str,
    triggering_user_name: str | None,
    dag_version_id: uuid.UUID,
    trace_context: dict[str, str],
    backfill_id: int | None = None,
) -> int | None:
    """Insert a queued run; None if (dag_id, run_id) or (dag_id, logical_date) is taken."""
    return await conn.fetchval(
        """
        INSERT INTO dag_runs (tenant_id, dag_id, run_id, state, run_type, logical_date, data_interval_start,
                              data_interval_end, run_after, queued_at, conf, note, triggered_by,
                              triggering_user_name, dag_version_id, trace_context, backfill_id)
        VALUES ($1, $2, $3, 'queued', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
        ON CONFLICT DO NOTHING
        RETURNING id
        """,
        tenant_id,
        dag_id,
        run_id,
        run_type,
        logical_date,
        data_interval_start,
        data_interval_end,
        run_after,
        queued_at,
        conf,
        note,
        triggered_by,
        triggering_user_name,
        dag_version_id,
        trace_context,
        backfill_id,
    )


async def exists(*, conn: asyncpg.Connection, tenant_id: str, dag_id: str, run_id: str) -> bool:
    """Whether the DAG has a run with this run_id."""
    return bool(
        await conn.fetchval(
            "SELECT 1 FROM dag_runs WHERE tenant_id = $1 AND dag_id = $2 AND run_id = $3",
            tenant_id,
            dag_id,
            run_id,
        )
    )


async def get_run(
    *, conn: asyncpg.Connection, tenant_id: str, dag_id: str, run_id: str
) -> asyncpg.Record | None:
    """A run by key, with its version joined in."""
    return await conn.fetchrow(
        f"{_SELECT} WHERE r.tenant_id = $1 AND r.dag_id = $2 AND r.run_id = $3",
        tenant_id,
        dag_id,
        run_id,
    )


async def get_run_by_pk(*, conn: asyncpg.Connection, run_pk: int) -> asyncpg.Record | None:
    """A run by id, with its version joined in."""
    return await conn.fetchrow(f"{_SELECT} WHERE r.id = $1", run_pk)


async def lock_run(
    *, conn: asyncpg.Connection, run_pk: int, skip_locked: bool = False
) -> asyncpg.Record | None:
    """Lock the run's row for the rest of the transaction and return it (fresh)."""
    suffix = " SKIP LOCKED" if skip_locked else ""
    return await conn.fetchrow(f"SELECT * FROM dag_runs WHERE id = $1 FOR UPDATE{suffix}", run_pk)


async def lock_runs_of_dag(
    *, conn: asyncpg.Connection, tenant_id: str, dag_id: str, state: str | None = None
) -> list[asyncpg.Record]:
    """Lock a DAG's runs (optionally only those in `state`) in id order. Lock
    order everywhere: runs by id first, then the DAG's row."""
    return await conn.fetch(
        "SELECT * FROM dag_runs WHERE tenant_id = $1 AND dag_id = $2 AND ($3::text IS NULL OR state = $3) "
        "ORDER BY id FOR UPDATE",
        tenant_id,
        dag_id,
        state,
    )


async def set_note(*, conn: asyncpg.Connection, run_pk: int, note: str | None) -> None:
    """Set the run's note (None clears it)."""
    await conn.execute(
        "UPDATE dag_runs SET note = $2, updated_at = now() WHERE id = $1", run_pk, note
    )


async def touch_scheduling_decision(
    *, conn: asyncpg.Connection, run_pk: int, when: datetime
) -> None:
    """Record when the scheduler last decided about the run."""
    await conn.execute(
        "UPDATE dag_runs SET last_scheduling_decision = $2 WHERE id = $1", run_pk, when
    )


async def delete_run(*, conn: asyncpg.Connection, run_pk: int) -> None:
    """Delete a run with its task instances and their history (cascades)."""
    await conn.execute("DELETE FROM dag_runs WHERE id = $1", run_pk)


async def runs_to_start(*, conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Queued runs that are due, of unpaused live DAGs, oldest first, and per
    limit group no more than its free slots (Airflow's
    get_queued_dag_runs_to_set_running). A backfill's runs are a group of their
    own, limited by the backfill's max_active_runs and held while it is paused,
    in the backfill's order (sort_ordinal); the DAG's other runs are limited by
    its max_active_runs. Backfill runs come after the others."""
    return await conn.fetch(
        """
        SELECT id, tenant_id, dag_id, backfill_id, trace_context, max_active_runs, running FROM (
            SELECT r.id, r.tenant_id, r.dag_id, r.backfill_id, r.trace_context, r.run_after,
                   coalesce(b.max_active_runs, d.max_active_runs) AS max_active_runs, busy.running,
                   bdr.sort_ordinal,
                   row_number() OVER (
                       PARTITION BY r.tenant_id, r.dag_id, r.backfill_id
                       ORDER BY bdr.sort_ordinal NULLS FIRST, r.run_after, r.id
                   ) AS position
            FROM dag_runs r
            JOIN dags d ON d.tenant_id = r.tenant_id AND d.dag_id = r.dag_id
            LEFT JOIN backfills b ON b.id = r.backfill_id
            LEFT JOIN backfill_dag_runs bdr ON bdr.backfill_id = r.backfill_id AND bdr.dag_run_id = r.id
            CROSS JOIN LATERAL (
                SELECT count(*) AS running FROM dag_runs a
                WHERE a.tenant_id = r.tenant_id AND a.dag_id = r.dag_id AND a.state = 'running'
                  AND a.backfill_id IS NOT DISTINCT FROM r.backfill_id
            ) busy
            WHERE r.state = 'queued' AND r.run_after <= now() AND NOT d.is_paused AND NOT d.is_stale
              AND NOT coalesce(b.is_paused, false)
        ) candidate
        WHERE position <= max_active_runs - running
        ORDER BY sort_ordinal NULLS FIRST, run_after, id
        LIMIT $1
        """,
        limit,
    )


async def count_running(
    *, conn: asyncpg.Connection, tenant_id: str, dag_id: str, backfill_id: int | None = None
) -> int:
    """How many of the DAG's runs of one limit group (its backfill's, or the
    non-backfill runs when `backfill_id` is None) are running."""
    return await conn.fetchval(
        "SELECT count(*) FROM dag_runs WHERE tenant_id = $1 AND dag_id = $2 AND state = 'running' "
        "AND backfill_id IS NOT DISTINCT FROM $3",
        tenant_id,
        dag_id,
        backfill_id,
    )


async def count_active_non_backfill(*, conn: asyncpg.Connection, tenant_id: str, dag_id: str) -> int:
    """Queued + running runs of the DAG that no backfill owns (Airflow's
    active_runs_of_dags(exclude_backfill=True): the cap on creating scheduled runs)."""
    return await conn.fetchval(
        "SELECT count(*) FROM dag_runs WHERE tenant_id = $1 AND dag_id = $2 "
        "AND state IN ('queued', 'running') AND run_type <> 'backfill'",
        tenant_id,
        dag_id,
    )


async def last_automated_run(*, conn: asyncpg.Connection, tenant_id: str, dag_id: str) -> asyncpg.Record | None:
    """The scheduled or backfill run with the latest logical date (Airflow's
    _get_latest_runs_stmt: what the next scheduled run follows)."""
    return await conn.fetchrow(
        "SELECT * FROM dag_runs WHERE tenant_id = $1 AND dag_id = $2 AND run_type IN ('scheduled', 'backfill') "
        "AND logical_date IS NOT NULL ORDER BY logical_date DESC LIMIT 1",
        tenant_id,
        dag_id,
    )


async def get_by_logical_date(
    *, conn: asyncpg.Connection, tenant_id: str, dag_id: str, logical_date: datetime
) -> asyncpg.Record | None:
    """The DAG's run with this logical date, if any (logical dates are unique per DAG)."""
    return await conn.fetchrow(
        "SELECT * FROM dag_runs WHERE tenant_id = $1 AND dag_id = $2 AND logical_date = $3",
        tenant_id,
        dag_id,
        logical_date,
    )


async def adopt_into_backfill(
    *, conn: asyncpg.Connection, run_pk: int, backfill_id: int, conf: dict[str, Any] | None
) -> None:
    """A cleared run re-queued by a backfill becomes one of its runs (Airflow's _handle_clear_run)."""
    await conn.execute(
        "UPDATE dag_runs SET backfill_id = $2, run_type = 'backfill', triggered_by = 'backfill', "
        "conf = coalesce($3, conf), updated_at = now() WHERE id = $1",
        run_pk,
        backfill_id,
        conf,
    )


@dataclass
class RunQuery:
    """ListDagRuns filters (see ListDagRunsRequest)."""

    dag_ids: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    run_types: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    ranges: dict[str, tuple[datetime | None, datetime | None]] = field(default_factory=dict)
    run_id_pattern: str = ""
    triggering_user_name_pattern: str = ""
    conditions: list[FieldCondition] = field(default_factory=list)
    order_by: list[str] = field(default_factory=list)
    limit: int = 100
    offset: int = 0


_RANGE_COLUMNS = {"logical_date", "run_after", "start_date", "end_date"}


async def list_runs(
    *, conn: asyncpg.Connection, tenant_id: str, query: RunQuery
) -> tuple[list[asyncpg.Record], int]:
    """A page of runs and the number matching; KeyError for an unknown sort or range column."""
    f = Filters()
    f.add("r.tenant_id = ?", tenant_id)
    if query.dag_ids:
        f.add("r.dag_id = ANY(?::text[])", query.dag_ids)
    if query.states:
        f.add("r.state = ANY(?::text[])", query.states)
    if query.run_types:
        f.add("r.run_type = ANY(?::text[])", query.run_types)
    if query.run_ids:
        f.add("r.run_id = ANY(?::text[])", query.run_ids)
    for column, (low, high) in query.ranges.items():
        if column not in _RANGE_COLUMNS:
            raise KeyError(column)
        if low is not None:
            f.add(f"r.{column} >= ?", low)
        if high is not None:
            f.add(f"r.{column} <= ?", high)
    if query.run_id_pattern:
        f.add("r.run_id ILIKE ?", f"%{query.run_id_pattern}%")
    if query.triggering_user_name_pattern:
        f.add(
            "r.triggering_user_name ILIKE ?", f"%{like_escape(query.triggering_user_name_pattern)}%"
        )
    add_conditions(f, query.conditions, RUN_FILTER_COLUMNS)
    order = order_clause(query.order_by, RUN_ORDER_COLUMNS, ["id"], "r.id ASC")
    total = await conn.fetchval(f"SELECT count(*) FROM dag_runs r{f.where()}", *f.params)
    limit, offset = f.param(query.limit), f.param(query.offset)
    rows = await conn.fetch(f"{_SELECT}{f.where()}{order} LIMIT {limit} OFFSET {offset}", *f.params)
    return rows, total


async def latest_runs_per_dag(
    *, conn: asyncpg.Connection, tenant_id: str, dag_ids: list[str], per_dag: int
) -> dict[str, list[asyncpg.Record]]:
    """The `per_dag` most recent runs (by id) of each DAG."""
    rows = await conn.fetch(
        f"""
        SELECT x.* FROM unnest($2::text[]) AS d(dag_id)
        CROSS JOIN LATERAL ({_SELECT} WHERE r.tenant_id = $1 AND r.dag_id = d.dag_id ORDER BY r.id DESC LIMIT $3) x
        """,
        tenant_id,
        dag_ids,
        per_dag,
    )
    result: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        result.setdefault(row["dag_id"], []).append(row)
    return result


async def runs_between(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    dag_id: str,
    after: datetime | None,
    before: datetime | None,
) -> list[asyncpg.Record]:
    """Runs of a DAG whose logical_date is within [after, before] (None: open end)."""
    return await conn.fetch(
        "SELECT * FROM dag_runs WHERE tenant_id = $1 AND dag_id = $2 AND logical_date IS NOT NULL "
        "AND ($3::timestamptz IS NULL OR logical_date >= $3) AND ($4::timestamptz IS NULL OR logical_date <= $4) "
        "ORDER BY id",
        tenant_id,
        dag_id,
        after,
        before,
    )


async def ids_in_date_range(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    dag_id: str,
    start: datetime | None,
    end: datetime | None,
) -> list[int]:
    """Ids of a DAG's runs whose logical date (run_after when it has none) is
    within [start, end] (None: open end), oldest first."""
    rows = await conn.fetch(
        "SELECT id FROM dag_runs WHERE tenant_id = $1 AND dag_id = $2 "
        "AND ($3::timestamptz IS NULL OR coalesce(logical_date, run_after) >= $3) "
        "AND ($4::timestamptz IS NULL OR coalesce(logical_date, run_after) <= $4) ORDER BY id",
        tenant_id,
        dag_id,
        start,
        end,
    )
    return [row["id"] for row in rows]


async def latest_states(
    *, conn: asyncpg.Connection, tenant_id: str, dag_id: str, limit: int
) -> list[str]:
    """States of a DAG's `limit` latest runs (by run_after, then id), newest first."""
    rows = await conn.fetch(
        "SELECT state FROM dag_runs WHERE tenant_id = $1 AND dag_id = $2 ORDER BY run_after DESC, id DESC LIMIT $3",
        tenant_id,
        dag_id,
        limit,
    )
    return [row["state"] for row in rows]


async def count_by_state(
    *, conn: asyncpg.Connection, tenant_id: str, dag_ids: list[str]
) -> list[asyncpg.Record]:
    """(dag_id, state, count) for every DAG and state that has runs (`dag_ids`
    empty: every DAG), by dag_id."""
    return await conn.fetch(
        "SELECT dag_id, state, count(*) AS count FROM dag_runs WHERE tenant_id = $1 "
        "AND (cardinality($2::text[]) = 0 OR dag_id = ANY($2::text[])) GROUP BY dag_id, state ORDER BY dag_id, state",
        tenant_id,
        dag_ids,
    )
