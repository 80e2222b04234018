"""XCom values in Redis (the stack), with native expiry and indexes so listing
never SCANs the key space.

Keys (every id component percent-escaped, so ":" inside a run id is harmless):

    <p>xcom:value:<tenant>:<dag>:<run>:<task>:<map_index>:<key>   hash {value, size, ts}
    <p>xcom:entries:<tenant>:<dag>:<run>   zset of [task, map_index, key] -> expiry (ms)
    <p>xcom:runs:<tenant>:<dag>            zset of run ids                 -> latest expiry
    <p>xcom:dags:<tenant>                  zset of dag ids                 -> latest expiry

The value key expires natively at its expiry; index members carry the same
instant as their score, so readers ignore (and prune) members whose time has
passed, and each index key itself expires with its newest member.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import quote

import redis.asyncio as redis

from ..keys import XComId
from ._interface import XComQuery, XComRecord, XComSelector, parse_order_by


def _escape(component: str | int) -> str:
    return quote(str(component), safe="")


def _member(xcom_id: XComId) -> bytes:
    return json.dumps(
        [xcom_id.task_id, xcom_id.map_index, xcom_id.key], separators=(",", ":")
    ).encode()


def _timestamp(ms: bytes | str) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)


class RedisXComStore:
    def __init__(
        self, client: redis.Redis, *, prefix: str, ttl_seconds: int, owns_client: bool = True
    ):
        self._redis = client
        self._prefix = f"{prefix}xcom:"
        self._ttl_ms = int(ttl_seconds * 1000)
        self._owns_client = owns_client

    # -- keys ------------------------------------------------------------------------

    def _value_key(self, i: XComId) -> str:
        parts = (i.tenant_id, i.dag_id, i.run_id, i.task_id, i.map_index, i.key)
        return self._prefix + "value:" + ":".join(map(_escape, parts))

    def _entries_key(self, tenant_id: str, dag_id: str, run_id: str) -> str:
        return f"{self._prefix}entries:{_escape(tenant_id)}:{_escape(dag_id)}:{_escape(run_id)}"

    def _runs_key(self, tenant_id: str, dag_id: str) -> str:
        return f"{self._prefix}runs:{_escape(tenant_id)}:{_escape(dag_id)}"

    def _dags_key(self, tenant_id: str) -> str:
        return f"{self._prefix}dags:{_escape(tenant_id)}"

    # -- writes ----------------------------------------------------------------------

    async def put(self, xcom_id: XComId, value: bytes) -> XComRecord:
        now_ms = int(time.time() * 1000)
        expires_ms = now_ms + self._ttl_ms
        value_key = self._value_key(xcom_id)
        indexes = {
            self._entries_key(xcom_id.tenant_id, xcom_id.dag_id, xcom_id.run_id): (
                _member(xcom_id),
                False,
            ),
            self._runs_key(xcom_id.tenant_id, xcom_id.dag_id): (xcom_id.run_id, True),
            self._dags_key(xcom_id.tenant_id): (xcom_id.dag_id, True),
        }
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(value_key, mapping={"value": value, "size": len(value), "ts": now_ms})
            pipe.pexpireat(value_key, expires_ms)
            for index_key, (member, keep_latest) in indexes.items():
                pipe.zadd(index_key, {member: expires_ms}, gt=keep_latest)
                # An index lives as long as its longest-lived member.
                pipe.pexpireat(index_key, expires_ms, nx=True)
                pipe.pexpireat(index_key, expires_ms, gt=True)
            await pipe.execute()
        return XComRecord(
            id=xcom_id, size_bytes=len(value), timestamp=_timestamp(now_ms), value=value
        )

    async def delete(self, selector: XComSelector) -> int:
        entries_key = self._entries_key(selector.tenant_id, selector.dag_id, selector.run_id)
        members = await self._redis.zrange(entries_key, 0, -1)
        doomed = [
            (m, i)
            for m, i in self._decode_members(
                selector.tenant_id, selector.dag_id, selector.run_id, members
            )
            if selector.matches(i)
        ]
        if not doomed:
            return 0
        async with self._redis.pipeline(transaction=True) as pipe:
            for _, xcom_id in doomed:
                pipe.delete(self._value_key(xcom_id))
            pipe.zrem(entries_key, *(m for m, _ in doomed))
            results = await pipe.execute()
        # DEL answers how many keys it removed: expired values are already gone.
        return sum(results[:-1])

    # -- reads -----------------------------------------------------------------------

    async def get(self, xcom_id: XComId) -> XComRecord | None:
        fields = await self._redis.hgetall(self._value_key(xcom_id))
        return self._record(
            xcom_id, fields.get(b"size"), fields.get(b"ts"), fields.get(b"value"), with_value=True
        )

    async def get_many(self, ids: Iterable[XComId]) -> dict[XComId, XComRecord]:
        wanted = list(dict.fromkeys(ids))
        if not wanted:
            return {}
        async with self._redis.pipeline(transaction=False) as pipe:
            for xcom_id in wanted:
                pipe.hmget(self._value_key(xcom_id), "size", "ts", "value")
            rows = await pipe.execute()
        found = {}
        for xcom_id, (size, ts, value) in zip(wanted, rows, strict=True):
            record = self._record(xcom_id, size, ts, value, with_value=True)
            if record is not None:
                found[xcom_id] = record
        return found

    async def query(self, query: XComQuery) -> tuple[list[XComRecord], int]:
        ids = await self._matching_ids(query)
        order = parse_order_by(query.order_by)
        timestamps: dict[XComId, int] = {}
        if any(name == "timestamp" for name, _ in order):
            timestamps = await self._timestamps(ids)
            ids = [i for i in ids if i in timestamps]
        ids = _sorted(ids, order, timestamps)
        page = ids[query.offset : query.offset + query.limit]
        async with self._redis.pipeline(transaction=False) as pipe:
            for xcom_id in page:
                fields = ("size", "ts", "value") if query.include_values else ("size", "ts")
                pipe.hmget(self._value_key(xcom_id), *fields)
            rows = await pipe.execute()
        records = []
        for xcom_id, row in zip(page, rows, strict=True):
            size, ts, value = (*row, None)[:3]
            record = self._record(xcom_id, size, ts, value, with_value=query.include_values)
            if record is not None:  # expired between the index read and now
                records.append(record)
        return records, len(ids)

    async def _matching_ids(self, query: XComQuery) -> list[XComId]:
        """Walk the indexes from the tenant down, pruning members whose time is up."""
        now = int(time.time() * 1000)
        tenant = query.tenant_id
        dag_ids = (
            [query.dag_id]
            if query.dag_id is not None
            else await self._live_members(self._dags_key(tenant), now)
        )
        if query.run_id is not None:
            runs = [(d, query.run_id) for d in dag_ids]
        else:
            per_dag = await self._live_members_many(
                [self._runs_key(tenant, d) for d in dag_ids], now
            )
            runs = [(d, r) for d, run_ids in zip(dag_ids, per_dag, strict=True) for r in run_ids]
        per_run = await self._live_members_many(
            [self._entries_key(tenant, d, r) for d, r in runs], now, raw=True
        )
        matches = []
        for (dag_id, run_id), members in zip(runs, per_run, strict=True):
            for _, xcom_id in self._decode_members(tenant, dag_id, run_id, members):
                if (
                    (query.task_id is None or xcom_id.task_id == query.task_id)
                    and (query.map_index is None or xcom_id.map_index == query.map_index)
                    and (query.key is None or xcom_id.key == query.key)
                ):
                    matches.append(xcom_id)
        return matches

    async def _live_members(self, key: str, now_ms: int) -> list[str]:
        return (await self._live_members_many([key], now_ms))[0]

    async def _live_members_many(
        self, keys: list[str], now_ms: int, *, raw: bool = False
    ) -> list[list]:
        if not keys:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.zremrangebyscore(key, "-inf", now_ms)
                pipe.zrangebyscore(key, f"({now_ms}", "+inf")
            results = await pipe.execute()
        members = results[1::2]
        return members if raw else [[m.decode() for m in ms] for ms in members]

    async def _timestamps(self, ids: list[XComId]) -> dict[XComId, int]:
        async with self._redis.pipeline(transaction=False) as pipe:
            for xcom_id in ids:
                pipe.hget(self._value_key(xcom_id), "ts")
            values = await pipe.execute()
        return {i: int(ts) for i, ts in zip(ids, values, strict=True) if ts is not None}

    @staticmethod
    def _decode_members(tenant_id: str, dag_id: str, run_id: str, members: list[bytes]):
        for member in members:
            task_id, map_index, key = json.loads(member)
            yield member, XComId(tenant_id, dag_id, run_id, task_id, int(map_index), key)

    @staticmethod
    def _record(xcom_id: XComId, size, ts, value, *, with_value: bool) -> XComRecord | None:
        if size is None or ts is None:
            return None
        return XComRecord(
            id=xcom_id,
            size_bytes=int(size),
            timestamp=_timestamp(ts),
            value=bytes(value) if with_value and value is not None else None,
        )

    async def close(self) -> None:
        if self._owns_client:
            await self._redis.aclose()


def _sorted(ids: list[XComId], order, timestamps: dict[XComId, int]) -> list[XComId]:
    """Sort like the Postgres store: byte-wise strings, stable multi-key, with
    descending fields handled by successive stable sorts from the last key."""
    result = list(ids)
    for name, descending in reversed(order):
        if name == "timestamp":
            result.sort(key=lambda i: timestamps[i], reverse=descending)
        elif name == "map_index":
            result.sort(key=lambda i: i.map_index, reverse=descending)
        else:
            result.sort(key=lambda i, n=name: getattr(i, n).encode(), reverse=descending)
    return result
