"""Delete expired XCom rows (postgres backend). Reads already ignore them; this
only gives the space back. Redis needs no sweep: its keys expire natively."""

from __future__ import annotations

import logging

from .. import metrics
from ..store import PostgresXComStore

log = logging.getLogger(__name__)


class SweepExpiredXComs:
    def __init__(self, store: PostgresXComStore):
        self._store = store

    async def run_once(self) -> int:
        deleted = await self._store.delete_expired()
        if deleted:
            metrics.EXPIRED_DELETED.inc(deleted)
            log.info("deleted %d expired XComs", deleted)
        return deleted
