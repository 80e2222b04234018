"""`leoflow lite backup` / `restore`: one .tar.gz holding everything a Lite home
needs to come back elsewhere.

Layout of the archive:
    manifest.json          format, version, when, from which workspace, what is inside
    database.dump          pg_dump -Fc of the metadata database (managed binaries)
    lite/state.json        Lite's secrets (JWT, agent token, connection encryption key)
    lite/workspace.json    the workspace index
    lite/logs/...          task logs
    bundles/...            the DAG bundles registered versions run from
    workspace/...          the DAG folders

Virtualenvs are not included: they are rebuilt from leoflow.yaml when Lite starts.
A backup can be taken while Lite runs (pg_dump reads a consistent snapshot).
Restoring needs Lite stopped, and --force to replace a home that has data.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import asyncpg
from rich.console import Console

from leoflow.compiler.bundle import IGNORED_NAMES, IGNORED_SUFFIXES

from .database import home_database
from .lock import LiteLock
from .ports import free_port, port_is_free
from .postgres import DATABASE, ManagedPostgres
from .state import LiteState, leoflow_home

FORMAT = "leoflow-lite-backup"
FORMAT_VERSION = 1
EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2


class BackupError(RuntimeError):
    """A backup or restore that cannot be done (message says why)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE):
        super().__init__(message)
        self.exit_code = exit_code


def _excluded(name: str) -> bool:
    return name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES)


def _add_tree(archive: tarfile.TarFile, source: Path, arcname: str) -> int:
    """Add `source` (if it exists) under `arcname`, without build debris; files added."""
    if not source.exists():
        return 0
    count = 0

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        nonlocal count
        if any(_excluded(part) for part in Path(info.name).parts):
            return None
        count += info.isfile()
        return info

    archive.add(source, arcname=arcname, filter=keep)
    return count


async def create_backup(output: Path, workspace: Path, *, console: Console | None = None) -> dict:
    """Write the backup of this home (and `workspace`) to `output`; its manifest."""
    console = console or Console(stderr=True)
    home = leoflow_home()
    with tempfile.TemporaryDirectory(prefix="leoflow-backup-") as scratch:
        dump = Path(scratch) / "database.dump"
        with console.status("dumping the database"):
            async with home_database("backup") as db:
                result = await asyncio.to_thread(
                    subprocess.run,
                    [db.server.tool("pg_dump"), "-Fc", "--no-owner", "-d", DATABASE, "-f", str(dump)],
                    capture_output=True, text=True, env=db.server.client_env(),
                )
                server_version = await _server_version(db.dsn)
        if result.returncode != 0:
            raise BackupError(f"pg_dump failed: {result.stderr.strip()[-400:]}")
        manifest = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "created_at": datetime.now(UTC).isoformat(),
            "leoflow_version": version("leoflow"),
            "postgres_version": server_version,
            "home": str(home),
            "workspace": str(workspace),
        }
        with console.status("writing the archive"):
            manifest["size_bytes"] = await asyncio.to_thread(_write_archive, output, dump, manifest, workspace)
    return manifest


def _write_archive(output: Path, dump: Path, manifest: dict, workspace: Path) -> int:
    """Write the archive (owner-only from the first byte: it holds Lite's secrets),
    atomically; its size."""
    home, state_dir = leoflow_home(), LiteState.directory()
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz", compresslevel=6) as archive:
        archive.add(dump, arcname="database.dump")
        manifest["files"] = {
            "state": _add_tree(archive, state_dir / "state.json", "lite/state.json"),
            "index": _add_tree(archive, state_dir / "workspace.json", "lite/workspace.json"),
            "logs": _add_tree(archive, state_dir / "logs", "lite/logs"),
            "bundles": _add_tree(archive, home / "bundles", "bundles"),
            "workspace": _add_tree(archive, workspace, "workspace"),
        }
        data = json.dumps(manifest, indent=2).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
        archive.addfile(info, io.BytesIO(data))
    partial.replace(output)
    return output.stat().st_size


async def _server_version(dsn: str) -> str:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        return await conn.fetchval("SHOW server_version")
    finally:
        await conn.close()


def _read_manifest(extracted: Path) -> dict:
    try:
        manifest = json.loads((extracted / "manifest.json").read_text())
    except (OSError, ValueError):
        raise BackupError("not a Leoflow Lite backup: manifest.json is missing or unreadable", EXIT_BAD_INPUT) from None
    if manifest.get("format") != FORMAT:
        raise BackupError("not a Leoflow Lite backup (unknown format)", EXIT_BAD_INPUT)
    if manifest.get("version") != FORMAT_VERSION:
        raise BackupError(f"backup format version {manifest.get('version')} is not supported (this Leoflow reads {FORMAT_VERSION})", EXIT_BAD_INPUT)
    if not (extracted / "database.dump").is_file():
        raise BackupError("the backup has no database.dump", EXIT_BAD_INPUT)
    return manifest


def _extract(source: Path, target: Path) -> None:
    try:
        with tarfile.open(source, "r:gz") as archive:
            archive.extractall(target, filter="data")  # no absolute paths, "..", devices or links out
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"cannot read {source}: {exc}", EXIT_BAD_INPUT) from None


async def restore_backup(source: Path, workspace: Path | None, *, force: bool = False, console: Console | None = None) -> dict:
    """Restore `source` into this home; {"workspace": where the DAG folders went}."""
    console = console or Console(stderr=True)
    home, state_dir = leoflow_home(), LiteState.directory()
    lock = LiteLock(state_dir)
    lock.acquire("restore")  # refuses while Lite (or another maintenance command) runs
    try:
        with tempfile.TemporaryDirectory(prefix="leoflow-restore-") as scratch:
            extracted = Path(scratch)
            with console.status("reading the backup"):
                _extract(source, extracted)
            manifest = _read_manifest(extracted)
            target = workspace or Path(manifest["workspace"])
            has_home = (state_dir / "state.json").exists()
            if not force and has_home:
                raise BackupError(f"{home} already has a Lite home: pass --force to replace its database and state", EXIT_BAD_INPUT)
            if not force and target.exists() and any(target.iterdir()):
                raise BackupError(f"workspace {target} is not empty: pass --force to replace it, or --workspace", EXIT_BAD_INPUT)
            state = _restored_state(extracted)
            with console.status("restoring the database"):
                await _restore_database(state_dir, state, extracted / "database.dump")
            with console.status("restoring files"):
                _replace_tree(extracted / "lite" / "logs", state_dir / "logs")
                _merge_tree(extracted / "bundles", home / "bundles")
                index = extracted / "lite" / "workspace.json"
                if index.is_file():
                    shutil.copyfile(index, state_dir / "workspace.json")
                _replace_tree(extracted / "workspace", target)
            return {"workspace": str(target), "manifest": manifest}
    finally:
        lock.release()


def _restored_state(extracted: Path) -> LiteState:
    """The backup's secrets (tokens and encrypted connections keep working), with a
    PostgreSQL port free on this machine."""
    try:
        data = json.loads((extracted / "lite" / "state.json").read_text())
    except (OSError, ValueError):
        raise BackupError("the backup has no lite/state.json", EXIT_BAD_INPUT) from None
    state = LiteState(**{k: v for k, v in data.items() if k in LiteState.__dataclass_fields__})
    current = LiteState.load()
    state.pg_port = current.pg_port if current.pg_port and port_is_free(current.pg_port) else free_port()
    state.save()
    return state


async def _restore_database(state_dir: Path, state: LiteState, dump: Path) -> None:
    server = ManagedPostgres.prepare(state_dir, state.pg_port)
    await server.start()
    if server.port != state.pg_port:
        state.pg_port = server.port
        state.save()
    try:
        conn = await asyncpg.connect(server.dsn, timeout=10)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
            await conn.execute(f'CREATE DATABASE "{DATABASE}"')
        finally:
            await conn.close()
        result = await asyncio.to_thread(
            subprocess.run,
            [server.tool("pg_restore"), "--no-owner", "--exit-on-error", "-d", DATABASE, str(dump)],
            capture_output=True, text=True, env=server.client_env(),
        )
        if result.returncode != 0:
            raise BackupError(f"pg_restore failed: {result.stderr.strip()[-400:]}")
    finally:
        server.stop()


def _replace_tree(source: Path, target: Path) -> None:
    if not source.exists():
        return
    if target.exists():
        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target, symlinks=True)


def _merge_tree(source: Path, target: Path) -> None:
    """Copy what `target` lacks (bundles are immutable and named by content: one
    that exists already is the same)."""

    def copy_missing(src: str, dst: str) -> None:
        if not os.path.exists(dst):
            shutil.copy2(src, dst)

    if source.exists():
        shutil.copytree(source, target, symlinks=True, dirs_exist_ok=True, copy_function=copy_missing)
