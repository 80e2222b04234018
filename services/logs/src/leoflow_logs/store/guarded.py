"""A store wrapper that turns backend outages into Unavailable.

Unavailable is the status clients retry (the agent resends its records), whereas
any other exception would reach the caller as a generic internal error. Only
"cannot reach the backend" errors are translated; bugs stay internal errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

import asyncpg
import redis.exceptions
from leoflow_common.errors import Unavailable
from leoflow_proto.logs.v1 import logs_pb2

from ..keys import TryId
from ._interface import AppendResult, LogChunk, LogStore

_UNREACHABLE = (
    OSError,  # refused, reset, timed out, disk full (TimeoutError is an OSError)
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
)


@contextlib.contextmanager
def unreachable_as_unavailable() -> Iterator[None]:
    try:
        yield
    except _UNREACHABLE as exc:
        raise Unavailable(
            f"the log store is unavailable ({type(exc).__name__}); try again"
        ) from exc


class GuardedLogStore:
    def __init__(self, inner: LogStore):
        self.inner = inner

    async def append(
        self, try_id: TryId, records: Sequence[logs_pb2.LogRecord], *, final: bool
    ) -> AppendResult:
        with unreachable_as_unavailable():
            return await self.inner.append(try_id, records, final=final)

    async def read(self, try_id: TryId, *, after_sequence: int, limit: int) -> LogChunk:
        with unreachable_as_unavailable():
            return await self.inner.read(try_id, after_sequence=after_sequence, limit=limit)

    async def wait(self, try_id: TryId, *, after_sequence: int, max_wait: float) -> None:
        with unreachable_as_unavailable():
            await self.inner.wait(try_id, after_sequence=after_sequence, max_wait=max_wait)

    async def close(self) -> None:
        await self.inner.close()
