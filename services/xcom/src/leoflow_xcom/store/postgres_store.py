"""XCom values in PostgreSQL (Lite): table xcom.xcom_entries, one row per value.

Expiry is a column: rows past `expires_at` are filtered out of every read at
once and deleted later, in batches, by `delete_expired` (the sweep loop)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import asyncpg

from ..keys import XComId
from ._interface import XComQuery, XComRecord, XComSelector, parse_order_by

_TABLE = "xcom.xcom_entries"
_COLUMN_NAMES = (
    "tenant_id",
    "dag_id",
    "run_id",
    "task_id",
    "map_index",
    "key",
    "size_bytes",
    "updated_at",
)
_COLUMNS = ", ".join(_COLUMN_NAMES)
_QUALIFIED_COLUMNS = ", ".join(f"e.{name}" for name in _COLUMN_NAMES)
_SORT_COLUMNS = {
    "dag_id": 'dag_id COLLATE "C"',
    "run_id": 'run_id COLLATE "C"',
    "task_id": 'task_id COLLATE "C"',
    "map_index": "map_index",
    "key": 'key COLLATE "C"',
    "timestamp": "updated_at",
}
_SWEEP_BATCH = 5000


def _record(row: asyncpg.Record, *, with_value: bool) -> XComRecord:
    xcom_id = XComId(
        row["tenant_id"], row["dag_id"], row["run_id"], row["task_id"], row["map_index"], row["key"]
    )
    value = bytes(row["value"]) if with_value else None
    updated_at: datetime = row["updated_at"]
    return XComRecord(id=xcom_id, size_bytes=row["size_bytes"], timestamp=updated_at, value=value)


class PostgresXComStore:
    """XComStore on an asyncpg pool; the schema comes from this service's migrations."""

    def __init__(self, pool: asyncpg.Pool, *, ttl_seconds: int, owns_pool: bool = True):
        self._pool = pool
        self._ttl = float(ttl_seconds)
        self._owns_pool = owns_pool

    async def put(self, xcom_id: XComId, value: bytes) -> XComRecord:
        row = await self._pool.fetchrow(
            f"""
            INSERT INTO {_TABLE} AS e
                (tenant_id, dag_id, run_id, task_id, map_index, key, value, size_bytes, updated_at, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, clock_timestamp(),
                    clock_timestamp() + make_interval(secs => $9))
            ON CONFLICT (tenant_id, dag_id, run_id, task_id, map_index, key) DO UPDATE
               SET value = EXCLUDED.value, size_bytes = EXCLUDED.size_bytes,
                   updated_at = EXCLUDED.updated_at, expires_at = EXCLUDED.expires_at
            RETURNING {_COLUMNS}, value
            """,
            *_id_args(xcom_id),
            value,
            len(value),
            self._ttl,
        )
        return _record(row, with_value=True)

    async def get(self, xcom_id: XComId) -> XComRecord | None:
        row = await self._pool.fetchrow(
            f"""
            SELECT {_COLUMNS}, value FROM {_TABLE}
             WHERE tenant_id = $1 AND dag_id = $2 AND run_id = $3 AND task_id = $4
               AND map_index = $5 AND key = $6 AND expires_at > clock_timestamp()
            """,
            *_id_args(xcom_id),
        )
        return _record(row, with_value=True) if row else None

    async def get_many(self, ids: Iterable[XComId]) -> dict[XComId, XComRecord]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        columns = list(zip(*(_id_args(i) for i in wanted), strict=True))
        rows = await self._pool.fetch(
            f"""
            SELECT {_QUALIFIED_COLUMNS}, e.value
              FROM {_TABLE} e
              JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[])
                   AS k(tenant_id, dag_id, run_id, task_id, map_index, key)
             USING (tenant_id, dag_id, run_id, task_id, map_index, key)
             WHERE e.expires_at > clock_timestamp()
            """,
            *(list(c) for c in columns),
        )
        records = (_record(r, with_value=True) for r in rows)
        return {r.id: r for r in records}

    async def query(self, query: XComQuery) -> tuple[list[XComRecord], int]:
        where, args = _where(query)
        order = ", ".join(
            f"{_SORT_COLUMNS[f]} {'DESC' if desc else 'ASC'}"
            for f, desc in parse_order_by(query.order_by)
        )
        value_column = ", value" if query.include_values else ""
        async with self._pool.acquire() as conn:
            total = await conn.fetchval(f"SELECT count(*) FROM {_TABLE} WHERE {where}", *args)
            rows = await conn.fetch(
                f"""
                SELECT {_COLUMNS}{value_column} FROM {_TABLE} WHERE {where}
                 ORDER BY {order} LIMIT ${len(args) + 1} OFFSET ${len(args) + 2}
                """,
                *args,
                query.limit,
                query.offset,
            )
        return [_record(r, with_value=query.include_values) for r in rows], int(total)

    async def delete(self, selector: XComSelector) -> int:
        conditions = ["tenant_id = $1", "dag_id = $2", "run_id = $3"]
        args: list[object] = [selector.tenant_id, selector.dag_id, selector.run_id]
        if selector.task_ids:
            args.append(sorted(selector.task_ids))
            conditions.append(f"task_id = ANY(${len(args)}::text[])")
        if selector.map_index is not None:
            args.append(selector.map_index)
            conditions.append(f"map_index = ${len(args)}")
        if selector.key is not None:
            args.append(selector.key)
            conditions.append(f"key = ${len(args)}")
        # Expired rows go too, but only live ones count: they are what callers could see.
        deleted = await self._pool.fetchval(
            f"""
            WITH gone AS (DELETE FROM {_TABLE} WHERE {" AND ".join(conditions)} RETURNING expires_at)
            SELECT count(*) FILTER (WHERE expires_at > clock_timestamp()) FROM gone
            """,
            *args,
        )
        return int(deleted)

    async def delete_expired(self) -> int:
        """Delete expired rows in batches (short transactions); return how many."""
        total = 0
        while True:
            status = await self._pool.execute(
                f"""
                DELETE FROM {_TABLE} WHERE ctid = ANY(ARRAY(
                    SELECT ctid FROM {_TABLE} WHERE expires_at <= clock_timestamp() LIMIT {_SWEEP_BATCH}))
                """
            )
            deleted = int(status.split()[-1])
            total += deleted
            if deleted < _SWEEP_BATCH:
                return total

    async def close(self) -> None:
        if self._owns_pool:
            await self._pool.close()


def _id_args(xcom_id: XComId) -> tuple[str, str, str, str, int, str]:
    return (
        xcom_id.tenant_id,
        xcom_id.dag_id,
        xcom_id.run_id,
        xcom_id.task_id,
        xcom_id.map_index,
        xcom_id.key,
    )


def _where(query: XComQuery) -> tuple[str, list[object]]:
    conditions = ["tenant_id = $1", "expires_at > clock_timestamp()"]
    args: list[object] = [query.tenant_id]
    for column, value in (
        ("dag_id", query.dag_id),
        ("run_id", query.run_id),
        ("task_id", query.task_id),
        ("map_index", query.map_index),
        ("key", query.key),
    ):
        if value is not None:
            args.append(value)
            conditions.append(f"{column} = ${len(args)}")
    return " AND ".join(conditions), args
