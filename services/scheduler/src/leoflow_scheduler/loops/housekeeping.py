"""process_housekeeping: forget published outbox rows and applied inbox ids once
they are older than the retention (a redelivery older than that is not expected)."""

from __future__ import annotations

from ..domain.context import SchedulerContext
from ..repository import inbox, outbox


class Housekeeping:
    """Prunes old outbox and inbox rows."""

    def __init__(self, ctx: SchedulerContext):
        self._ctx = ctx

    async def run_once(self) -> int:
        retention = self._ctx.settings.outbox_retention_seconds
        async with self._ctx.pool.acquire() as conn:
            pruned = await outbox.prune_published(conn=conn, older_than_seconds=retention)
            pruned += await inbox.prune(conn=conn, older_than_seconds=retention)
        return pruned
