"""task_instances: one row per (run, task, map_index): the current try. Created
with state NULL ("none") when the run is created; every later state change goes
through `state_machine.propose_ti_state`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from ._field_filters import Column, FieldCondition, add_conditions
from ._sql import Filters, order_clause

# Columns ListTaskInstances may sort on (Airflow's names) -> SQL.
TI_ORDER_COLUMNS = {
    "id": "ti.id",
    "state": "ti.state",
    "duration": "(ti.end_date - ti.start_date)",
    "start_date": "ti.start_date",
    "end_date": "ti.end_date",
    "map_index": "ti.map_index",
    "try_number": "ti.try_number",
    "logical_date": "r.logical_date",
    "run_after": "r.run_after",
    "data_interval_start": "r.data_interval_start",
    "data_interval_end": "r.data_interval_end",
    "rendered_map_index": "ti.rendered_map_index",
    "operator": "ti.operator",
    "dag_id": "ti.dag_id",
    "run_id": "ti.run_id",
    "dag_run_id": "ti.run_id",
    "task_id": "ti.task_id",
    "hostname": "ti.hostname",
    "pid": "ti.pid",
    "pool": "ti.pool",
    "queue": "ti.queue",
    "priority_weight": "ti.priority_weight",
    "queued_when": "ti.queued_at",
    "scheduled_when": "ti.scheduled_at",
}

_SELECT = """
SELECT ti.*, r.logical_date AS run_logical_date, r.run_after AS run_run_after,
       v.version_number AS dag_version_number, v.spec_hash AS dag_version_hash,
       v.created_at AS dag_version_created_at, v.bundle_name AS dag_version_bundle_name,
       v.bundle_version AS dag_version_bundle_version
FROM task_instances ti
JOIN dag_runs r ON r.id = ti.dag_run_id
LEFT JOIN dag_versions v ON v.id = ti.dag_version_id
"""


async def insert_for_run(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    run_pk: int,
    dag_id: str,
    run_id: str,
    dag_version_id: uuid.UUID,
    tasks: list[dict[str, Any]],
) -> None:
    """Task instances in state none (try 0): one per entry of `tasks`, at its
    "map_index" (-1, an unmapped or not yet expanded task, by default)."""
    await conn.executemany(
        """
        INSERT INTO task_instances (id, tenant_id, dag_run_id, dag_id, run_id, task_id, map_index, max_tries,
                                    operator, task_display_name, pool, pool_slots, queue, priority_weight, dag_version_id)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
        """,
        [
            (
                uuid.uuid4(), tenant_id, run_pk, dag_id, run_id, t["task_id"], t.get("map_index", -1), t["max_tries"],
                t["operator"], t["display_name"], t["pool"], t["pool_slots"], t["queue"], t["priority_weight"],
                dag_version_id,
            )
            for t in tasks
        ],
    )  # fmt: skip


async def expand_unmapped(*, conn: asyncpg.Connection, ti_id: uuid.UUID) -> None:
    """Turn a mapped task's placeholder (-1) into its first instance (map_index 0),
    as Airflow's expand_mapped_task does in place."""
    await conn.execute(
        "UPDATE task_instances SET map_index = 0, updated_at = now() WHERE id = $1 AND map_index = -1", ti_id
    )


async def counts_in_states(
    *, conn: asyncpg.Connection, tenant_id: str, dag_id: str, task_id: str, states: list[str]
) -> int:
    """How many of a task's instances (across runs) are in `states`."""
    return await conn.fetchval(
        "SELECT count(*) FROM task_instances WHERE tenant_id = $1 AND dag_id = $2 AND task_id = $3 "
        "AND state = ANY($4::text[])",
        tenant_id,
        dag_id,
        task_id,
        states,
    )


async def for_run(*, conn: asyncpg.Connection, run_pk: int) -> list[asyncpg.Record]:
    """Every task instance of a run (callers hold the run lock when they decide)."""
    return await conn.fetch(
        "SELECT * FROM task_instances WHERE dag_run_id = $1 ORDER BY task_id, map_index", run_pk
    )


async def state_counts_for_run(*, conn: asyncpg.Connection, run_pk: int) -> list[asyncpg.Record]:
    """How many task instances of a run each task has in each state: rows of
    (task_id, state, n), state NULL for "none"."""
    return await conn.fetch(
        "SELECT task_id, state, count(*) AS n FROM task_instances WHERE dag_run_id = $1 GROUP BY task_id, state",
        run_pk,
    )


async def waiting_for_run(*, conn: asyncpg.Connection, run_pk: int) -> list[asyncpg.Record]:
    """The run's task instances that have not started (none or scheduled), whole."""
    return await conn.fetch(
        "SELECT * FROM task_instances WHERE dag_run_id = $1 AND (state IS NULL OR state = 'scheduled') "
        "ORDER BY task_id, map_index",
        run_pk,
    )


async def get_by_id(*, conn: asyncpg.Connection, ti_id: uuid.UUID) -> asyncpg.Record | None:
    """The bare task-instance row, or None."""
    return await conn.fetchrow("SELECT * FROM task_instances WHERE id = $1", ti_id)


async def find_key(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
) -> asyncpg.Record | None:
    """The bare row for a key (no joins): for handlers that lock the run next."""
    return await conn.fetchrow(
        "SELECT id, dag_run_id FROM task_instances "
        "WHERE tenant_id = $1 AND dag_id = $2 AND run_id = $3 AND task_id = $4 AND map_index = $5",
        tenant_id,
        dag_id,
        run_id,
        task_id,
        map_index,
    )


async def get_detailed(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
) -> asyncpg.Record | None:
    """The row with its run's dates and its version, for API answers."""
    return await conn.fetchrow(
        f"{_SELECT} WHERE ti.tenant_id = $1 AND ti.dag_id = $2 AND ti.run_id = $3 AND ti.task_id = $4 AND ti.map_index = $5",
        tenant_id,
        dag_id,
        run_id,
        task_id,
        map_index,
    )


async def detailed_by_ids(
    *, conn: asyncpg.Connection, ti_ids: list[uuid.UUID]
) -> list[asyncpg.Record]:
    """Task instances with their run dates and version, by id."""
    return await conn.fetch(
        f"{_SELECT} WHERE ti.id = ANY($1::uuid[]) ORDER BY ti.dag_run_id, ti.task_id, ti.map_index",
        ti_ids,
    )


async def set_note(*, conn: asyncpg.Connection, ti_id: uuid.UUID, note: str | None) -> None:
    """Set the task instance's note (None clears it)."""
    await conn.execute(
        "UPDATE task_instances SET note = $2, updated_at = now() WHERE id = $1", ti_id, note
    )


# Task instances up for retry in running runs of unpaused DAGs: the only ones
# the retry timer may start (Airflow's scheduler ignores paused DAGs).
_RETRYABLE = """
FROM task_instances ti
JOIN dag_runs r ON r.id = ti.dag_run_id AND r.state = 'running'
JOIN dags d ON d.tenant_id = r.tenant_id AND d.dag_id = r.dag_id AND NOT d.is_paused
WHERE ti.state = 'up_for_retry'
"""


async def due_retries(*, conn: asyncpg.Connection, limit: int) -> list[asyncpg.Record]:
    """Retryable task instances whose next try is due now, earliest first."""
    return await conn.fetch(
        f"SELECT ti.id, ti.dag_run_id, r.trace_context {_RETRYABLE} AND ti.next_retry_at <= now() ORDER BY ti.next_retry_at LIMIT $1",
        limit,
    )


async def next_retry_due(*, conn: asyncpg.Connection) -> datetime | None:
    """The earliest next_retry_at of any retryable task instance."""
    return await conn.fetchval(f"SELECT min(ti.next_retry_at) {_RETRYABLE}")


@dataclass
class TaskInstanceQuery:
    """ListTaskInstances filters (see ListTaskInstancesRequest)."""

    dag_ids: list[str] = field(default_factory=list)
    run_ids: list[str] = field(default_factory=list)
    task_ids: list[str] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    include_no_state: bool = False
    map_index: int | None = None
    ranges: dict[str, tuple[datetime | None, datetime | None]] = field(default_factory=dict)
    pools: list[str] = field(default_factory=list)
    queues: list[str] = field(default_factory=list)
    task_display_name_pattern: str = ""
    conditions: list[FieldCondition] = field(default_factory=list)
    order_by: list[str] = field(default_factory=list)
    limit: int = 100
    offset: int = 0


# Fields ListTaskInstances filters on with FieldFilters (Airflow's names) -> SQL.
TI_FILTER_COLUMNS = {
    **{name: Column(f"r.{name}", "time") for name in ("run_after", "logical_date")},
    "updated_at": Column("ti.updated_at", "time"),
    # As Airflow: a task not started (or not ended) yet counts as starting (ending) now.
    **{name: Column(f"coalesce(ti.{name}, now())", "time") for name in ("start_date", "end_date")},
    "duration": Column("EXTRACT(EPOCH FROM (ti.end_date - ti.start_date))", "number"),
    **{name: Column(f"ti.{name}", "text") for name in ("dag_id", "run_id", "task_id", "pool", "queue", "operator")},
    # Leoflow records one operator name per task (Airflow's class and custom name alike).
    "operator_name": Column("ti.operator", "text"),
    "rendered_map_index": Column("nullif(ti.rendered_map_index, '')", "text"),
    "task_display_name": Column("coalesce(nullif(ti.task_display_name, ''), ti.task_id)", "text"),
    # Leoflow has no executors: a task instance's executor is always null.
    "executor": Column("NULL::text", "text"),
    "version_number": Column("(SELECT version_number FROM dag_versions fv WHERE fv.id = ti.dag_version_id)", "int"),
    "try_number": Column("ti.try_number", "int"),
    "map_index": Column("ti.map_index", "int"),
}

_RANGE_COLUMNS = {
    "run_after": "r.run_after",
    "logical_date": "r.logical_date",
    "start_date": "ti.start_date",
    "end_date": "ti.end_date",
}


async def list_task_instances(
    *, conn: asyncpg.Connection, tenant_id: str, query: TaskInstanceQuery
) -> tuple[list[asyncpg.Record], int]:
    """A page of task instances and the number matching; KeyError for an unknown sort column."""
    f = Filters()
    f.add("ti.tenant_id = ?", tenant_id)
    if query.dag_ids:
        f.add("ti.dag_id = ANY(?::text[])", query.dag_ids)
    if query.run_ids:
        f.add("ti.run_id = ANY(?::text[])", query.run_ids)
    if query.task_ids:
        f.add("ti.task_id = ANY(?::text[])", query.task_ids)
    if query.states and query.include_no_state:
        f.add("(ti.state = ANY(?::text[]) OR ti.state IS NULL)", query.states)
    elif query.states:
        f.add("ti.state = ANY(?::text[])", query.states)
    elif query.include_no_state:
        f.add("ti.state IS NULL")
    if query.map_index is not None:
        f.add("ti.map_index = ?", query.map_index)
    for name, (low, high) in query.ranges.items():
        column = _RANGE_COLUMNS[name]
        if low is not None:
            f.add(f"{column} >= ?", low)
        if high is not None:
            f.add(f"{column} <= ?", high)
    if query.pools:
        f.add("ti.pool = ANY(?::text[])", query.pools)
    if query.queues:
        f.add("ti.queue = ANY(?::text[])", query.queues)
    if query.task_display_name_pattern:
        f.add(
            "(ti.task_display_name ILIKE ? OR ti.task_id ILIKE ?)",
            *[f"%{query.task_display_name_pattern}%"] * 2,
        )
    add_conditions(f, query.conditions, TI_FILTER_COLUMNS)
    order = order_clause(
        query.order_by, TI_ORDER_COLUMNS, ["map_index"], "ti.dag_run_id, ti.task_id, ti.id"
    )
    total = await conn.fetchval(
        f"SELECT count(*) FROM task_instances ti JOIN dag_runs r ON r.id = ti.dag_run_id{f.where()}",
        *f.params,
    )
    limit, offset = f.param(query.limit), f.param(query.offset)
    rows = await conn.fetch(f"{_SELECT}{f.where()}{order} LIMIT {limit} OFFSET {offset}", *f.params)
    return rows, total


async def count_running(*, conn: asyncpg.Connection, tenant_id: str, dag_id: str) -> int:
    """How many of a DAG's task instances are running."""
    return await conn.fetchval(
        "SELECT count(*) FROM task_instances WHERE tenant_id = $1 AND dag_id = $2 AND state = 'running'",
        tenant_id,
        dag_id,
    )
