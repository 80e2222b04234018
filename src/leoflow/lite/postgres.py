"""A PostgreSQL server managed by Lite, started from binaries the install provides.

Binaries come from the first of: LEOFLOW_PG_BIN, the `pgserver` wheel's bundled
build, `pg_config --bindir`, /usr/lib/postgresql/<newest>/bin. The server listens on
127.0.0.1 only, with scram-sha-256 password auth (the password lives in Lite's
state, readable by its owner only), and never runs as root: under root, Lite runs
it as an unprivileged system user and keeps its data in a directory that user can
reach.

Invariants that keep a crash harmless:
- the server is Lite's own child, in a session of its own (a Ctrl-C in the terminal
  reaches Lite, which stops the server last, after the services let go of it), and
  it receives SIGINT (fast shutdown) if Lite dies without stopping it;
- before starting, a server left running on the same data directory is stopped,
  and a postmaster.pid naming a process that is not that server is removed.
"""

from __future__ import annotations

import asyncio
import ctypes
import hashlib
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from .ports import free_port

PG_USER_NAME = "leoflow-pg"
DATABASE = "leoflow"
_PR_SET_PDEATHSIG = 1
# Small on purpose: Lite's metadata is small, and the whole tree must idle in ~300 MB.
SERVER_SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "shared_buffers": "16MB",
    "max_connections": "100",
    "max_wal_size": "64MB",
    "min_wal_size": "32MB",
    "checkpoint_timeout": "15min",
    "autovacuum_naptime": "5min",
    "max_worker_processes": "2",
    "max_parallel_workers": "0",
    "max_parallel_workers_per_gather": "0",
    "jit": "off",
}


# Ports tried when the chosen one is taken while the server starts.
PORT_ATTEMPTS = 5


class PostgresError(RuntimeError):
    """The managed server could not be prepared or started (message says why)."""


class PortTaken(PostgresError):
    """Another program bound the server's port first."""


def find_pg_bin() -> Path:
    """The directory holding postgres, initdb and pg_ctl; PostgresError if none does."""
    candidates: list[Path] = []
    if env := os.environ.get("LEOFLOW_PG_BIN"):
        candidates.append(Path(env))
    # Only pgserver's files are used; importing it would run its own set-up code.
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.submodule_search_locations:
        candidates.append(Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin")
    if pg_config := shutil.which("pg_config"):
        try:
            out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
            candidates.append(Path(out))
        except (OSError, subprocess.CalledProcessError):
            pass
    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
    for path in candidates:
        if (path / "postgres").exists() and (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    raise PostgresError("no PostgreSQL binaries found (install leoflow with its Lite extras, or set LEOFLOW_PG_BIN)")


def unprivileged_user() -> pwd.struct_passwd | None:
    """None when not root; otherwise the user the server runs as (created if needed)."""
    if os.geteuid() != 0:
        return None
    wanted = os.environ.get("LEOFLOW_PG_RUN_AS", PG_USER_NAME)
    try:
        return pwd.getpwnam(wanted)
    except KeyError:
        pass
    if wanted == PG_USER_NAME and shutil.which("useradd"):
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER_NAME],
            check=False,
            capture_output=True,
        )
        try:
            return pwd.getpwnam(PG_USER_NAME)
        except KeyError:
            pass
    raise PostgresError(f"PostgreSQL refuses to run as root and user {wanted!r} does not exist (set LEOFLOW_PG_RUN_AS)")


def _die_with_parent() -> None:
    """In the child, before exec: a fast shutdown when Lite dies without stopping us."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT, 0, 0, 0)


def _process_cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


@dataclass
class ManagedPostgres:
    """Owns one data directory and the server process serving it."""

    data_dir: Path
    port: int
    password: str
    bin_dir: Path
    run_as: pwd.struct_passwd | None
    process: subprocess.Popen | None = field(default=None, repr=False)
    _log_start: int = field(default=0, repr=False)

    @classmethod
    def prepare(cls, state_dir: Path, port: int) -> ManagedPostgres:
        """Locate binaries and the data directory; initdb on first use."""
        bin_dir = find_pg_bin()
        run_as = unprivileged_user()
        password_file = state_dir / "pg-password"
        data_dir = cls.data_dir_for(state_dir, run_as)
        if not password_file.exists():
            state_dir.mkdir(parents=True, exist_ok=True)
            password_file.write_text(secrets.token_urlsafe(24))
            password_file.chmod(0o600)
            if data_dir.exists():
                # Left by a home deleted earlier at the same path (under root the data
                # lives outside the home): its password is lost with it, start afresh.
                shutil.rmtree(data_dir)
        password = password_file.read_text().strip()
        server = cls(data_dir, port, password, bin_dir, run_as)
        if not (data_dir / "PG_VERSION").exists():
            server._initdb()
        return server

    @staticmethod
    def data_dir_for(state_dir: Path, run_as: pwd.struct_passwd | None) -> Path:
        """Where the cluster of this state directory lives (created if needed)."""
        if run_as is None:
            return state_dir / "pgdata"
        # The unprivileged user cannot traverse root's home (0700): keep the data under
        # /var/lib, named after the state directory so two homes never share it.
        tag = hashlib.sha256(str(state_dir.resolve()).encode()).hexdigest()[:12]
        base = Path(os.environ.get("LEOFLOW_PG_DATA_ROOT", "/var/lib/leoflow-lite")) / tag
        base.mkdir(parents=True, exist_ok=True)
        base.chmod(0o755)
        state_dir.mkdir(parents=True, exist_ok=True)
        (state_dir / "pgdata-location").write_text(str(base / "pgdata"))
        return base / "pgdata"

    # -- commands ------------------------------------------------------------------

    def _as_server_user(self, args: list[str]) -> list[str]:
        if self.run_as is None:
            return args
        return ["setpriv", f"--reuid={self.run_as.pw_uid}", f"--regid={self.run_as.pw_gid}", "--clear-groups", *args]

    def _run(self, args: list[str], **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self._as_server_user(args), capture_output=True, text=True, **kwargs)

    def tool(self, name: str) -> str:
        """Path of a client program of the same build (pg_dump, pg_restore, psql)."""
        path = self.bin_dir / name
        if not path.exists():
            raise PostgresError(f"{name} is missing from {self.bin_dir}")
        return str(path)

    def _initdb(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pwfile = self.data_dir.parent / ".initdb-pw"
        pwfile.write_text(self.password)
        if self.run_as is not None:
            for path in (self.data_dir, pwfile):
                os.chown(path, self.run_as.pw_uid, self.run_as.pw_gid)
        self.data_dir.chmod(0o700)
        pwfile.chmod(0o600)
        try:
            result = self._run([
                str(self.bin_dir / "initdb"), "--no-sync", "-D", str(self.data_dir), "-U", "postgres",
                "--auth-host=scram-sha-256", "--auth-local=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
                "--locale=C",
            ])
        finally:
            pwfile.unlink(missing_ok=True)
        if result.returncode != 0:
            raise PostgresError(f"initdb failed: {result.stderr.strip().splitlines()[-1] if result.stderr.strip() else result.returncode}")

    @property
    def dsn(self) -> str:
        return self.dsn_for("postgres")

    def dsn_for(self, database: str) -> str:
        return f"postgresql://postgres:{self.password}@127.0.0.1:{self.port}/{database}"

    # -- lifecycle -----------------------------------------------------------------

    def clear_leftover(self) -> None:
        """Stop a server a crashed Lite left running on this data directory, and
        drop a postmaster.pid whose process is something else (PIDs get reused)."""
        pid_file = self.data_dir / "postmaster.pid"
        try:
            pid = int(pid_file.read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return
        if str(self.data_dir) in _process_cmdline(pid):
            self._run([str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "-t", "30", "stop"])
        elif pid_file.exists():
            pid_file.unlink(missing_ok=True)

    def spawn(self) -> None:
        """Start the server as a child of this thread (call it from the main thread:
        the parent-death signal follows the thread that forked)."""
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child, closed below
        self._log_start = log.tell()  # what this start logs begins here
        args = [str(self.bin_dir / "postgres"), "-D", str(self.data_dir), "-h", "127.0.0.1", "-p", str(self.port),
                "-k", str(self.data_dir)]
        for name, value in SERVER_SETTINGS.items():
            args += ["-c", f"{name}={value}"]
        ids = {}
        if self.run_as is not None:
            ids = {"user": self.run_as.pw_uid, "group": self.run_as.pw_gid, "extra_groups": []}
        try:
            self.process = subprocess.Popen(
                args, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True, preexec_fn=_die_with_parent, **ids,  # noqa: PLW1509 - prctl only
            )
        finally:
            log.close()

    @property
    def log_path(self) -> Path:
        """The server's own log (outside the data directory, which pg_restore may replace)."""
        return self.data_dir.parent / "server.log"

    async def wait_ready(self, within: float = 30) -> None:
        """Until the server accepts connections; PostgresError with its log's tail
        otherwise (PortTaken when something else holds the port)."""
        deadline = time.monotonic() + within
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise self._start_failure()
            try:
                conn = await asyncpg.connect(self.dsn, timeout=2)
            except asyncpg.InvalidAuthorizationSpecificationError as exc:
                # Someone answered on our port with another password: when it is not
                # our server (it lost the race for the port and is exiting), say so.
                if await self._exits_within(2.0):
                    raise self._start_failure() from None
                raise PostgresError(f"PostgreSQL refused Lite's password ({exc}); its data directory is {self.data_dir}") from None
            except (TimeoutError, OSError, asyncpg.PostgresError):
                if time.monotonic() > deadline:
                    raise PostgresError(f"PostgreSQL did not accept connections on 127.0.0.1:{self.port}: {self._log_tail()}") from None
                await asyncio.sleep(0.03)
                continue
            await conn.close()
            return

    def _log_since_start(self) -> str:
        """What the server logged since the last spawn."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._log_start)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def _log_tail(self) -> str:
        lines = [line for line in self._log_since_start().splitlines() if line.strip()]
        return " | ".join(lines[-3:])[-600:] if lines else "(no server log)"

    async def _exits_within(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self.process is not None and self.process.poll() is None:
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.02)
        return True

    def _start_failure(self) -> PostgresError:
        if "Address already in use" in self._log_since_start():
            return PortTaken(f"port {self.port} was taken by another program while PostgreSQL started")
        return PostgresError(f"PostgreSQL exited during start-up: {self._log_tail()}")

    async def start(self, within: float = 30) -> None:
        """Start the server and wait (up to `within` seconds) until it accepts
        connections. A port taken between choosing it and binding it (another
        program was quicker) is replaced by a free one: read `port` afterwards."""
        await asyncio.to_thread(self.clear_leftover)
        for attempt in range(PORT_ATTEMPTS):
            self.spawn()
            try:
                await self.wait_ready(within)
                return
            except PortTaken:
                self.stop()
                if attempt == PORT_ATTEMPTS - 1:
                    raise
                self.port = free_port()

    def stop(self, timeout: float = 20) -> None:
        """Fast shutdown (SIGINT), then immediate (SIGQUIT), then SIGKILL."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        for sig, wait in ((signal.SIGINT, timeout), (signal.SIGQUIT, 5), (signal.SIGKILL, 5)):
            try:
                process.send_signal(sig)
                process.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue
            except ProcessLookupError:
                return

    async def ensure_database(self, name: str = DATABASE) -> str:
        """Create database `name` if missing; return its DSN."""
        conn = await asyncpg.connect(self.dsn, timeout=10)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
        except asyncpg.PostgresError as exc:
            raise PostgresError(f"cannot create database {name}: {exc}") from exc
        finally:
            await conn.close()
        return self.dsn_for(name)

    def client_env(self) -> dict[str, str]:
        """Environment for the client programs (pg_dump, pg_restore)."""
        return {**os.environ, "PGPASSWORD": self.password, "PGHOST": "127.0.0.1", "PGPORT": str(self.port), "PGUSER": "postgres"}
