"""User accounts: authenticate, read, set password (creating the user when
absent), and the bootstrap admin.

Authentication failures all look alike ("Invalid credentials"): unknown user,
wrong password and inactive user take the same path and the same time.
"""

from __future__ import annotations

import asyncio

import asyncpg
from leoflow_common.auth import normalize_role
from leoflow_common.errors import InvalidArgument, NotFound, Unauthenticated

from ..domain.context import SchedulerContext
from ..repository import audit_log, tenants, users
from .passwords import hash_password, needs_rehash, verify_or_burn

MAX_USERNAME = 256
BOOTSTRAP_ADMIN = "admin"


def normalize_roles(roles: list[str]) -> list[str]:
    """Airflow's role names, validated; InvalidArgument naming "roles" otherwise."""
    try:
        return sorted({normalize_role(role) for role in roles})
    except ValueError as exc:
        raise InvalidArgument(str(exc), field="roles") from exc


def _check_username(username: str) -> None:
    if not username or not username.strip():
        raise InvalidArgument("username is required", field="username")
    if len(username) > MAX_USERNAME:
        raise InvalidArgument(
            f"username is longer than {MAX_USERNAME} characters", field="username"
        )


async def authenticate(
    ctx: SchedulerContext, tenant_id: str, username: str, password: str
) -> asyncpg.Record:
    """The user if the password is right; Unauthenticated("Invalid credentials") otherwise."""
    async with ctx.pool.acquire() as conn:
        user = await users.get_user(conn=conn, tenant_id=tenant_id, username=username)
    stored = user["password_hash"] if user is not None else None
    # argon2 is CPU-bound: keep the event loop free while it works.
    ok = await asyncio.to_thread(verify_or_burn, stored, password)
    if not ok or user is None or not user["active"]:
        raise Unauthenticated("Invalid credentials")
    if needs_rehash(stored):
        new_hash = await asyncio.to_thread(hash_password, password)
        async with ctx.pool.acquire() as conn:
            await users.set_password_hash(
                conn=conn, tenant_id=tenant_id, username=username, password_hash=new_hash
            )
    return user


async def get_user(ctx: SchedulerContext, tenant_id: str, username: str) -> asyncpg.Record:
    """A user of the tenant; NotFound otherwise."""
    async with ctx.pool.acquire() as conn:
        user = await users.get_user(conn=conn, tenant_id=tenant_id, username=username)
    if user is None:
        raise NotFound(f"The User with username `{username}` was not found")
    return user


async def set_password(
    ctx: SchedulerContext,
    tenant_id: str,
    username: str,
    password: str,
    roles: list[str],
    actor: str | None,
) -> asyncpg.Record:
    """Set a user's password (and roles when given), creating the user (role
    Viewer unless roles are given) when absent."""
    _check_username(username)
    if not password:
        raise InvalidArgument("password must not be empty", field="password")
    normalized = normalize_roles(roles) if roles else None
    password_hash = await asyncio.to_thread(hash_password, password)
    async with ctx.transaction() as uow:
        await tenants.ensure_tenant(conn=uow.conn, tenant_id=tenant_id)
        user = await users.upsert_user(
            conn=uow.conn,
            tenant_id=tenant_id,
            username=username,
            password_hash=password_hash,
            roles=normalized,
        )
        await audit_log.write_event(
            conn=uow.conn,
            tenant_id=tenant_id,
            event="set_user_password",
            owner=actor,
            extra={"username": username, "roles": user["roles"]},
        )
    return user


async def bootstrap_admin(ctx: SchedulerContext, password: str) -> bool:
    """Create user "admin" (role Admin) in the default tenant if no user exists at
    all; True if it was created. Safe to run on every start of every replica."""
    async with ctx.transaction() as uow:
        # Replicas starting together must not both see "no user".
        await uow.conn.execute("SELECT pg_advisory_xact_lock(hashtext('leoflow.bootstrap_admin'))")
        if await users.count_users(conn=uow.conn):
            return False
        await tenants.ensure_tenant(conn=uow.conn, tenant_id=ctx.default_tenant)
        await users.upsert_user(
            conn=uow.conn, tenant_id=ctx.default_tenant, username=BOOTSTRAP_ADMIN,
            password_hash=hash_password(password), roles=["Admin"],
        )  # fmt: skip
        await audit_log.write_event(
            conn=uow.conn,
            tenant_id=ctx.default_tenant,
            event="bootstrap_admin",
            owner="scheduler",
            extra={"username": BOOTSTRAP_ADMIN},
        )
    return True
