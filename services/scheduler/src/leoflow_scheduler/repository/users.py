"""users: one row per (tenant, username); passwords as argon2 hashes."""

from __future__ import annotations

import asyncpg


async def get_user(
    *, conn: asyncpg.Connection, tenant_id: str, username: str
) -> asyncpg.Record | None:
    """The user row (with its password hash), or None."""
    return await conn.fetchrow(
        "SELECT * FROM users WHERE tenant_id = $1 AND username = $2", tenant_id, username
    )


async def count_users(*, conn: asyncpg.Connection) -> int:
    """How many users exist, across tenants."""
    return await conn.fetchval("SELECT count(*) FROM users")


async def upsert_user(
    *,
    conn: asyncpg.Connection,
    tenant_id: str,
    username: str,
    password_hash: str,
    roles: list[str] | None,
) -> asyncpg.Record:
    """Create the user, or set its password (and roles, when given)."""
    return await conn.fetchrow(
        """
        INSERT INTO users (tenant_id, username, password_hash, roles)
        VALUES ($1, $2, $3, coalesce($4::text[], ARRAY['Viewer']))
        ON CONFLICT (tenant_id, username) DO UPDATE
           SET password_hash = EXCLUDED.password_hash,
               roles = coalesce($4::text[], users.roles),
               updated_at = now()
        RETURNING *
        """,
        tenant_id,
        username,
        password_hash,
        roles,
    )


async def set_password_hash(
    *, conn: asyncpg.Connection, tenant_id: str, username: str, password_hash: str
) -> None:
    """Replace a user's password hash (rehashing with newer parameters)."""
    await conn.execute(
        "UPDATE users SET password_hash = $3, updated_at = now() WHERE tenant_id = $1 AND username = $2",
        tenant_id,
        username,
        password_hash,
    )
