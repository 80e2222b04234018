"""The durable log store of the stack: PostgreSQL schema "logs" (this service's).

logs.log_tries holds one row per try (last sequence stored, closed); its row lock
serializes appends to one try, so deduplication by sequence is exact and records
can be bulk-copied. logs.log_records holds the records, serialized LogRecord
messages, keyed by (try, sequence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from leoflow_common.errors import FailedPrecondition
from leoflow_proto.logs.v1 import logs_pb2

from ..keys import TryId
from ..records import fresh_records
from ._interface import LogChunk

_TRY_KEY = "tenant_id = $1 AND dag_id = $2 AND run_id = $3 AND task_id = $4 AND map_index = $5 AND try_number = $6"


@dataclass(frozen=True, slots=True)
class ArchivedAppend:
    accepted: int
    last_sequence: int
    # The log was already closed before this append (a resent final batch).
    was_closed: bool


def _key_args(try_id: TryId) -> tuple[str, str, str, str, int, int]:
    return (
        try_id.tenant_id,
        try_id.dag_id,
        try_id.run_id,
        try_id.task_id,
        try_id.map_index,
        try_id.try_number,
    )


class PostgresLogArchive:
    def __init__(self, pool: asyncpg.Pool, *, owns_pool: bool = True):
        self._pool = pool
        self._owns_pool = owns_pool

    async def append(
        self, try_id: TryId, records: Sequence[logs_pb2.LogRecord], *, final: bool
    ) -> ArchivedAppend:
        async with self._pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """
                INSERT INTO logs.log_tries AS t (tenant_id, dag_id, run_id, task_id, map_index, try_number)
                VALUES ($1, $2, $3, $4, $5, $6)
                ON CONFLICT ON CONSTRAINT log_tries_try_key DO UPDATE SET updated_at = now()
                RETURNING t.id, t.last_sequence, t.closed
                """,
                *_key_args(try_id),
            )
            log_id, last_sequence, closed = row["id"], row["last_sequence"], row["closed"]
            fresh = fresh_records(records, last_sequence)
            if closed:
                if fresh:
                    raise FailedPrecondition(
                        f"the log of {try_id.describe()} is closed; it takes no new records"
                    )
                return ArchivedAppend(0, last_sequence, was_closed=True)
            if fresh:
                await conn.copy_records_to_table(
                    "log_records",
                    schema_name="logs",
                    columns=("try_id", "sequence", "record"),
                    records=[(log_id, r.sequence, r.SerializeToString()) for r in fresh],
                )
                last_sequence = fresh[-1].sequence
            if fresh or final:
                await conn.execute(
                    "UPDATE logs.log_tries SET last_sequence = $2, closed = closed OR $3 WHERE id = $1",
                    log_id,
                    last_sequence,
                    final,
                )
            return ArchivedAppend(len(fresh), last_sequence, was_closed=False)

    async def read(self, try_id: TryId, *, after_sequence: int, limit: int) -> LogChunk:
        async with (
            self._pool.acquire() as conn,
            conn.transaction(isolation="repeatable_read", readonly=True),
        ):
            row = await conn.fetchrow(
                f"SELECT id, last_sequence, closed FROM logs.log_tries WHERE {_TRY_KEY}",
                *_key_args(try_id),
            )
            if row is None:
                return LogChunk([], 0, False)
            rows = await conn.fetch(
                "SELECT record FROM logs.log_records WHERE try_id = $1 AND sequence > $2 ORDER BY sequence LIMIT $3",
                row["id"],
                after_sequence,
                limit,
            )
        records = [logs_pb2.LogRecord.FromString(bytes(r["record"])) for r in rows]
        return LogChunk(records, row["last_sequence"], row["closed"])

    async def close(self) -> None:
        if self._owns_pool:
            await self._pool.close()
