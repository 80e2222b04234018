"""`leoflow lite reset-password`: a new random password for a Lite user, set
through the scheduler's own identity code (argon2 hash, audit record), whether
Lite is running or not (see database.py)."""

from __future__ import annotations

import secrets

from leoflow_common.db import create_pool
from leoflow_common.settings import SecuritySettings
from leoflow_scheduler.domain.context import SchedulerContext
from leoflow_scheduler.identity import users as identity
from leoflow_scheduler.repository import users as user_rows
from leoflow_scheduler.settings import SchedulerSettings

from .database import home_database
from .state import LiteState

ADMIN = "admin"


class UnknownUser(LookupError):
    """No such user in Lite's tenant."""


def new_password() -> str:
    """16 URL-safe characters (~96 bits)."""
    return secrets.token_urlsafe(12)


async def reset_password(username: str = ADMIN, password: str | None = None) -> str:
    """Set `username`'s password (a new random one unless given) and return it.
    The admin user is created (role Admin) if it does not exist; any other user
    must exist (UnknownUser otherwise)."""
    password = password or new_password()
    state = LiteState.load()
    async with home_database("reset-password") as db:
        settings = SchedulerSettings(
            database_url=db.dsn,
            security=SecuritySettings(jwt_secret=state.jwt_secret, agent_token_secret=state.agent_token_secret),
        )
        pool = await create_pool(db.dsn, min_size=1, max_size=2)
        try:
            ctx = SchedulerContext(pool=pool, settings=settings)
            tenant = settings.security.default_tenant
            async with pool.acquire() as conn:
                existing = await user_rows.get_user(conn=conn, tenant_id=tenant, username=username)
            if existing is None and username != ADMIN:
                raise UnknownUser(f"Lite has no user {username!r}")
            roles = ["Admin"] if existing is None else []  # [] keeps an existing user's roles
            await identity.set_password(ctx, tenant, username, password, roles, actor="leoflow lite reset-password")
        finally:
            await pool.close()
    if username == ADMIN and not state.admin_created:
        state = LiteState.load()
        state.admin_created = True
        state.save()
    return password
