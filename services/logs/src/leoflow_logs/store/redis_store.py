"""Task logs for the stack: a Redis stream per try for the live tail and for
followers, written through to the PostgreSQL archive (the durable store).

Append writes the archive first (it decides what is new, and a closed log
refuses new records), then the stream; a failure in between fails the call and
the agent resends, which both sides deduplicate by sequence. So the stream never
holds a record the archive lacks, and the archive always has the whole log.

Stream entry ids are "<sequence>-1"; the closing entry is "<last sequence>-2"
(field "end"), so XREAD BLOCK from "<cursor>-1" wakes for new records and for
the close alike. A stream is trimmed to about `max_stream_entries`, expires
`stream_ttl` after its last append while open and `closed_stream_ttl` after the
close; a read is served from the stream when the stream still holds every
record after the cursor, else from the archive.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from urllib.parse import quote

import redis.asyncio as redis
from leoflow_proto.logs.v1 import logs_pb2

from ..keys import TryId
from ._interface import AppendResult, LogChunk
from .archive import PostgresLogArchive

# KEYS: stream, meta. ARGV: final, maxlen, open ttl ms, closed ttl ms, then
# (sequence, serialized record) pairs in ascending order.
_APPEND = """
local last = tonumber(redis.call('HGET', KEYS[2], 'last') or '0')
local closed = redis.call('HGET', KEYS[2], 'closed') == '1'
local added = 0
if not closed then
  for i = 5, #ARGV, 2 do
    if tonumber(ARGV[i]) > last then
      redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], ARGV[i] .. '-1', 'r', ARGV[i + 1])
      last = tonumber(ARGV[i])
      added = added + 1
    end
  end
  redis.call('HSET', KEYS[2], 'last', string.format('%d', last))
  if ARGV[1] == '1' then
    redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], string.format('%d', last) .. '-2', 'end', '1')
    redis.call('HSET', KEYS[2], 'closed', '1')
    closed = true
  end
end
local ttl = ARGV[3]
if closed then ttl = ARGV[4] end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('PEXPIRE', KEYS[2], ttl)
return added
"""


def _sequence(entry_id: bytes) -> tuple[int, bool]:
    """(sequence, is the closing entry) of a stream entry id."""
    sequence, _, kind = entry_id.decode().partition("-")
    return int(sequence), kind == "2"


class RedisLogStore:
    def __init__(
        self,
        client: redis.Redis,
        archive: PostgresLogArchive,
        *,
        prefix: str,
        stream_ttl_seconds: float,
        closed_stream_ttl_seconds: float,
        max_stream_entries: int,
        owns_client: bool = True,
    ):
        self._redis = client
        self._archive = archive
        self._prefix = f"{prefix}logs:"
        self._open_ttl_ms = int(stream_ttl_seconds * 1000)
        self._closed_ttl_ms = int(closed_stream_ttl_seconds * 1000)
        self._max_entries = max_stream_entries
        self._owns_client = owns_client
        self._append_script = client.register_script(_APPEND)

    def _stream_key(self, try_id: TryId) -> str:
        parts = (
            try_id.tenant_id,
            try_id.dag_id,
            try_id.run_id,
            try_id.task_id,
            try_id.map_index,
            try_id.try_number,
        )
        return self._prefix + ":".join(quote(str(p), safe="") for p in parts)

    async def append(
        self, try_id: TryId, records: Sequence[logs_pb2.LogRecord], *, final: bool
    ) -> AppendResult:
        archived = await self._archive.append(try_id, records, final=final)
        if archived.was_closed:
            return AppendResult(0, archived.last_sequence)
        stream = self._stream_key(try_id)
        args: list[object] = [int(final), self._max_entries, self._open_ttl_ms, self._closed_ttl_ms]
        # Every record of the request, not just those new to the archive: if an
        # earlier attempt reached the archive but not the stream, this fills the gap.
        for record in records:
            args += [record.sequence, record.SerializeToString()]
        await self._append_script(keys=[stream, stream + ":meta"], args=args)
        return AppendResult(archived.accepted, archived.last_sequence)

    async def read(self, try_id: TryId, *, after_sequence: int, limit: int) -> LogChunk:
        stream = self._stream_key(try_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xrange(stream, "-", "+", count=1)
            pipe.hmget(stream + ":meta", "last", "closed")
            # One more than asked: the closing entry may be among them.
            pipe.xrange(stream, f"({after_sequence}-1", "+", count=limit + 1)
            first, (last, closed), entries = await pipe.execute()
        if not first or last is None or _sequence(first[0][0])[0] > after_sequence + 1:
            return await self._archive.read(try_id, after_sequence=after_sequence, limit=limit)
        records = [
            logs_pb2.LogRecord.FromString(fields[b"r"])
            for entry_id, fields in entries
            if not _sequence(entry_id)[1]
        ][:limit]
        return LogChunk(records, int(last), closed == b"1")

    async def wait(self, try_id: TryId, *, after_sequence: int, max_wait: float) -> None:
        # XREAD BLOCK also waits for a stream that does not exist yet.
        with contextlib.suppress(redis.TimeoutError):
            await self._redis.xread(
                {self._stream_key(try_id): f"{after_sequence}-1"},
                count=1,
                block=max(1, int(max_wait * 1000)),
            )

    async def close(self) -> None:
        if self._owns_client:
            await self._redis.aclose()
        await self._archive.close()
