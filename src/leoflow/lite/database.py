"""Lite's metadata database for maintenance commands (reset-password, backup,
restore), whether Lite is running or not.

Running Lite holds the home's lock and its PostgreSQL: the command connects to
that server. Otherwise the command takes the lock itself (so Lite cannot start
meanwhile) and runs the managed server only for as long as it needs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from .lock import LiteAlreadyRunning, LiteLock
from .ports import free_port, port_is_free
from .postgres import DATABASE, ManagedPostgres, find_pg_bin, unprivileged_user
from .state import LiteState


class LiteNotSetUp(RuntimeError):
    """This home has no Lite yet (message says what to do)."""


@dataclass
class HomeDatabase:
    server: ManagedPostgres
    dsn: str
    # True when a running Lite owns the server (then it must not be touched).
    lite_running: bool
    lock: LiteLock | None


def _server_of(state: LiteState) -> ManagedPostgres:
    state_dir = LiteState.directory()
    run_as = unprivileged_user()
    data_dir = ManagedPostgres.data_dir_for(state_dir, run_as)
    password_file = state_dir / "pg-password"
    if not (data_dir / "PG_VERSION").exists() or not password_file.exists():
        raise LiteNotSetUp(f"Leoflow Lite has no database in {state_dir.parent} yet: run `leoflow lite` once first")
    return ManagedPostgres(data_dir, state.pg_port, password_file.read_text().strip(), find_pg_bin(), run_as)


@asynccontextmanager
async def home_database(purpose: str, *, exclusive: bool = False) -> AsyncIterator[HomeDatabase]:
    """The home's database, started if need be. `exclusive`: refuse while Lite runs."""
    state_path = LiteState.directory() / "state.json"
    if not state_path.exists():
        raise LiteNotSetUp(f"Leoflow Lite was never started with LEOFLOW_HOME={state_path.parents[1]}: run `leoflow lite` first")
    state = LiteState.load()
    lock = LiteLock(LiteState.directory())
    try:
        lock.acquire(purpose)
    except LiteAlreadyRunning as running:
        if exclusive or "already running" not in str(running):
            raise
        server = _server_of(state)
        yield HomeDatabase(server, server.dsn_for(DATABASE), lite_running=True, lock=None)
        return
    try:
        if not state.pg_port or not port_is_free(state.pg_port):
            state.pg_port = free_port()
            state.save()
        server = _server_of(state)
        await server.start()
        if server.port != state.pg_port:
            state.pg_port = server.port
            state.save()
        try:
            yield HomeDatabase(server, server.dsn_for(DATABASE), lite_running=False, lock=lock)
        finally:
            server.stop()
    finally:
        lock.release()
