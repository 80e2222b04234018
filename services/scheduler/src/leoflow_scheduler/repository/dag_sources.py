"""dags, as DAG sources see them: a DAG whose source folder is gone is stale
(kept with its history, out of the active list, never scheduled) until a new
version is registered (dags.update_summary / touch_parsed clear the flag)."""

from __future__ import annotations

import asyncpg


async def mark_stale(*, conn: asyncpg.Connection, tenant_id: str, dag_id: str) -> bool:
    """Mark the DAG stale; False when it was already stale or does not exist."""
    row = await conn.fetchrow(
        """
        UPDATE dags SET is_stale = true, updated_at = now()
        WHERE tenant_id = $1 AND dag_id = $2 AND NOT is_stale
        RETURNING dag_id
        """,
        tenant_id,
        dag_id,
    )
    return row is not None
