"""A store wrapper that turns backend outages into Unavailable.

Unavailable is the status clients retry (the agent does), whereas any other
exception would reach the caller as a generic internal error. Only "cannot reach
the backend" errors are translated; bugs stay internal errors.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator

import asyncpg
import redis.exceptions
from leoflow_common.errors import Unavailable

from ..keys import XComId
from ._interface import XComQuery, XComRecord, XComSelector, XComStore

_UNREACHABLE = (
    OSError,  # refused, reset, timed out (TimeoutError is an OSError)
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
            f"the XCom store is unavailable ({type(exc).__name__}); try again"
        ) from exc


class GuardedXComStore:
    def __init__(self, inner: XComStore):
        self.inner = inner

    async def put(self, xcom_id: XComId, value: bytes) -> XComRecord:
        with unreachable_as_unavailable():
            return await self.inner.put(xcom_id, value)

    async def get(self, xcom_id: XComId) -> XComRecord | None:
        with unreachable_as_unavailable():
            return await self.inner.get(xcom_id)

    async def get_many(self, ids: Iterable[XComId]) -> dict[XComId, XComRecord]:
        with unreachable_as_unavailable():
            return await self.inner.get_many(ids)

    async def query(self, query: XComQuery) -> tuple[list[XComRecord], int]:
        with unreachable_as_unavailable():
            return await self.inner.query(query)

    async def delete(self, selector: XComSelector) -> int:
        with unreachable_as_unavailable():
            return await self.inner.delete(selector)

    async def close(self) -> None:
        await self.inner.close()
