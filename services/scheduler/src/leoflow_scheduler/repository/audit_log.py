"""audit_log: Airflow's event log. One row per change a user or the registry made.

Every `extra` is masked before it is stored (metadata/masking.py): a conf, body or
variable holding a password is recorded with "***" in its place, never in clear.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg

from ..metadata.masking import redact
from ._search import add_pattern, add_prefix_pattern
from ._sql import Filters, order_clause


async def write_event(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    event: str,
    owner: str | None = None,
    dag_id: str | None = None,
    run_id: str | None = None,
    task_id: str | None = None,
    map_index: int | None = None,
    try_number: int | None = None,
    logical_date: datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Record one event (Airflow's Log row); `extra` is stored as masked JSON text."""
    await conn.execute(
        """
        INSERT INTO audit_log (tenant_id, event, owner, owner_display_name, dag_id, run_id, task_id,
                               map_index, try_number, logical_date, extra)
        VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10)
        """,
        tenant_id,
        event,
        owner,
        dag_id,
        run_id,
        task_id,
        map_index,
        try_number,
        logical_date,
        json.dumps(redact(json.loads(json.dumps(extra, default=str))), sort_keys=True) if extra else None,
    )


async def list_events(
    *, conn: asyncpg.Connection, tenant_id: str, dag_id: str | None = None
) -> list[asyncpg.Record]:
    """Events of a tenant (optionally one DAG), oldest first."""
    return await conn.fetch(
        "SELECT * FROM audit_log WHERE tenant_id = $1 AND ($2::text IS NULL OR dag_id = $2) ORDER BY id",
        tenant_id,
        dag_id,
    )


# Airflow's sortable names (and their aliases) -> SQL.
EVENT_ORDER_COLUMNS = {
    "id": "l.id",
    "event_log_id": "l.id",
    "dttm": "l.dttm",
    "when": "l.dttm",
    "dag_id": "l.dag_id",
    "task_id": "l.task_id",
    "run_id": "l.run_id",
    "event": "l.event",
    "logical_date": "l.logical_date",
    "owner": "l.owner",
    "extra": "l.extra",
}

# The row plus the display names Airflow's EventLogResponse carries.
_SELECT = """
SELECT l.*, d.display_name AS dag_display_name, ti.task_display_name
FROM audit_log l
LEFT JOIN dags d ON d.tenant_id = l.tenant_id AND d.dag_id = l.dag_id
LEFT JOIN LATERAL (
    SELECT t.task_display_name FROM task_instances t
    WHERE t.tenant_id = l.tenant_id AND t.dag_id = l.dag_id AND t.run_id = l.run_id
      AND t.task_id = l.task_id AND t.map_index = COALESCE(l.map_index, -1)
    LIMIT 1
) ti ON l.task_id IS NOT NULL AND l.run_id IS NOT NULL
"""


@dataclass
class EventQuery:
    """ListEventLogs filters (see ListEventLogsRequest); empty/None: no filter."""

    exact: dict[str, Any] = field(default_factory=dict)  # column -> value
    excluded_events: list[str] = field(default_factory=list)
    included_events: list[str] = field(default_factory=list)
    before: datetime | None = None
    after: datetime | None = None
    patterns: dict[str, str] = field(default_factory=dict)  # column -> *_pattern
    prefix_patterns: dict[str, str] = field(default_factory=dict)  # column -> *_prefix_pattern
    order_by: list[str] = field(default_factory=list)
    limit: int = 100
    offset: int = 0


async def get_event(*, conn: asyncpg.Connection, tenant_id: str, event_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_SELECT} WHERE l.tenant_id = $1 AND l.id = $2", tenant_id, event_id)


async def list_page(*, conn: asyncpg.Connection, tenant_id: str, query: EventQuery) -> tuple[list[asyncpg.Record], int]:
    """A page of events and the number matching; KeyError names an unknown order_by."""
    f = Filters()
    f.add("l.tenant_id = ?", tenant_id)
    for column, value in query.exact.items():
        f.add(f"l.{column} = ?", value)
    if query.excluded_events:
        f.add("NOT (l.event = ANY(?::text[]))", query.excluded_events)
    if query.included_events:
        f.add("l.event = ANY(?::text[])", query.included_events)
    if query.before is not None:
        f.add("l.dttm < ?", query.before)
    if query.after is not None:
        f.add("l.dttm > ?", query.after)
    for column, pattern in query.patterns.items():
        add_pattern(f, f"l.{column}", pattern)
    for column, pattern in query.prefix_patterns.items():
        add_prefix_pattern(f, f"l.{column}", pattern)
    tiebreak = "l.id DESC" if query.order_by and query.order_by[0].startswith("-") else "l.id ASC"
    order = order_clause(query.order_by, EVENT_ORDER_COLUMNS, ["id"], tiebreak)
    total = await conn.fetchval(f"SELECT count(*) FROM audit_log l{f.where()}", *f.params)
    limit, offset = f.param(query.limit), f.param(query.offset)
    rows = await conn.fetch(f"{_SELECT}{f.where()}{order} LIMIT {limit} OFFSET {offset}", *f.params)
    return rows, total
