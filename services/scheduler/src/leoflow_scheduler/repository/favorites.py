"""dag_favorites: the DAGs each user marked as favorite (deleted with the DAG)."""

from __future__ import annotations

import asyncpg

# The condition a `dags` row meets when user $n favorited it (ListDags' is_favorite).
FAVORITE_EXISTS = (
    "EXISTS (SELECT 1 FROM dag_favorites fav WHERE fav.tenant_id = dags.tenant_id "
    "AND fav.dag_id = dags.dag_id AND fav.username = {param})"
)


async def add(*, conn: asyncpg.Connection, tenant_id: str, username: str, dag_id: str) -> bool:
    """Mark the DAG; False when it already was."""
    added = await conn.fetchval(
        """
        INSERT INTO dag_favorites (tenant_id, username, dag_id) VALUES ($1, $2, $3)
        ON CONFLICT DO NOTHING RETURNING true
        """,
        tenant_id,
        username,
        dag_id,
    )
    return bool(added)


async def remove(*, conn: asyncpg.Connection, tenant_id: str, username: str, dag_id: str) -> bool:
    """Unmark the DAG; False when it was not marked."""
    removed = await conn.fetchval(
        "DELETE FROM dag_favorites WHERE tenant_id = $1 AND username = $2 AND dag_id = $3 RETURNING true",
        tenant_id,
        username,
        dag_id,
    )
    return bool(removed)


async def is_favorite(*, conn: asyncpg.Connection, tenant_id: str, username: str, dag_id: str) -> bool:
    return bool(
        await conn.fetchval(
            "SELECT true FROM dag_favorites WHERE tenant_id = $1 AND username = $2 AND dag_id = $3",
            tenant_id,
            username,
            dag_id,
        )
    )
