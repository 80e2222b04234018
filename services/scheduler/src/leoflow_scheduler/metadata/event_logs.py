"""The event log as Airflow's API reads it (rows are written by every change, in
the change's own transaction: repository/audit_log.write_event)."""

from __future__ import annotations

import asyncpg
from leoflow_common.errors import InvalidArgument, NotFound

from ..domain.context import SchedulerContext
from ..repository import audit_log


async def get_event_log(ctx: SchedulerContext, tenant_id: str, event_log_id: int) -> asyncpg.Record:
    async with ctx.pool.acquire() as conn:
        row = await audit_log.get_event(conn=conn, tenant_id=tenant_id, event_id=event_log_id)
    if row is None:
        raise NotFound(f"The Event Log with id: `{event_log_id}` not found")
    return row


async def list_event_logs(
    ctx: SchedulerContext, tenant_id: str, query: audit_log.EventQuery
) -> tuple[list[asyncpg.Record], int]:
    async with ctx.pool.acquire() as conn:
        try:
            return await audit_log.list_page(conn=conn, tenant_id=tenant_id, query=query)
        except KeyError as exc:
            raise InvalidArgument(
                f"Ordering with '{exc.args[0]}' is disallowed or the attribute does not exist on the model", field="order_by"
            ) from exc
