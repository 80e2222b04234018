"""`leoflow doctor`: what this machine has for Leoflow, and what is missing.

Each check says ok, warn (Lite works, something is degraded) or fail (Lite cannot
start). Exit code 0 unless a check fails (1), so scripts can gate on it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ._common import console, reports_errors
from ._errors import EXIT_FAILURE

OK, WARN, FAIL = "ok", "warn", "fail"
REPO = Path(__file__).resolve().parents[3]
MARKS = {OK: "[green]✓[/]", WARN: "[yellow]![/]", FAIL: "[red]✗[/]"}


@dataclass
class Check:
    name: str
    outcome: str
    detail: str


def _version_of(command: list[str]) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (result.stdout or result.stderr).strip().splitlines()[0] if result.returncode == 0 else ""


def check_python() -> Check:
    version = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    return Check("Python", OK if sys.version_info >= (3, 11) else FAIL, f"{version} ({sys.executable})")


def check_postgres() -> Check:
    from leoflow.lite.postgres import PostgresError, find_pg_bin  # noqa: PLC0415

    try:
        bin_dir = find_pg_bin()
    except PostgresError as exc:
        return Check("PostgreSQL binaries", FAIL, str(exc))
    return Check("PostgreSQL binaries", OK, f"{_version_of([str(bin_dir / 'postgres'), '--version'])} in {bin_dir}")


def check_unprivileged_user() -> Check | None:
    if os.geteuid() != 0:
        return None
    from leoflow.lite.postgres import PG_USER_NAME  # noqa: PLC0415

    wanted = os.environ.get("LEOFLOW_PG_RUN_AS", PG_USER_NAME)
    import pwd  # noqa: PLC0415

    try:
        pwd.getpwnam(wanted)
        return Check("PostgreSQL user (running as root)", OK, f"PostgreSQL will run as {wanted!r}")
    except KeyError:
        if wanted == PG_USER_NAME and shutil.which("useradd"):
            return Check("PostgreSQL user (running as root)", OK, f"{wanted!r} will be created (useradd)")
        return Check("PostgreSQL user (running as root)", FAIL, f"no user {wanted!r} and no useradd: set LEOFLOW_PG_RUN_AS")


def check_uv() -> Check:
    from leoflow.compiler.environment import uv_binary  # noqa: PLC0415

    uv = uv_binary()
    if uv:
        return Check("uv (DAG virtualenvs)", OK, f"{_version_of([uv, '--version'])} ({uv})")
    return Check("uv (DAG virtualenvs)", WARN, "not found: virtualenvs are built with venv + pip (slower)")


def check_builder() -> Check:
    from leoflow.compiler.image import BUILDERS  # noqa: PLC0415

    for name in BUILDERS:
        if path := shutil.which(name):
            return Check("container builder", OK, f"{name} ({path}) for `leoflow compile --build`")
    return Check("container builder", WARN, f"none of {', '.join(BUILDERS)}: images (Kubernetes) cannot be built here; Lite does not need one")


def check_node() -> Check:
    node = shutil.which("node")
    built = (REPO / "var" / "ide" / "assets" / "editor.js").is_file()
    if built:
        return Check("editor (/ide)", OK, "built in var/ide" + (f"; Node.js {_version_of([node, '--version'])}" if node else ""))
    if node:
        return Check("editor (/ide)", WARN, f"Node.js {_version_of([node, '--version'])} found, editor not built: run scripts/build-ide.sh")
    return Check("editor (/ide)", WARN, "no Node.js: the /ide editor cannot be built (install Node.js, then scripts/build-ide.sh)")


def check_ui() -> Check:
    from leoflow_api_gateway.settings import DEFAULT_UI_DIR  # noqa: PLC0415

    ui_dir = Path(os.environ.get("LEOFLOW_GATEWAY_UI_DIR") or DEFAULT_UI_DIR)
    if (ui_dir / "ui" / "index.html").is_file():
        return Check("Airflow UI assets", OK, str(ui_dir))
    return Check("Airflow UI assets", WARN, f"missing in {ui_dir}: run scripts/fetch-ui.sh (the REST API works without them)")


def check_port(host: str, port: int) -> Check:
    from leoflow.lite.lock import LiteAlreadyRunning, LiteLock  # noqa: PLC0415
    from leoflow.lite.ports import port_is_free  # noqa: PLC0415
    from leoflow.lite.state import LiteState  # noqa: PLC0415

    if port_is_free(port, host):
        return Check(f"port {port}", OK, f"free on {host}")
    lock = LiteLock(LiteState.directory())
    try:
        lock.acquire("doctor")
    except LiteAlreadyRunning as running:
        return Check(f"port {port}", OK, f"in use: {running}")
    finally:
        lock.release()
    return Check(f"port {port}", FAIL, f"in use on {host} by another program: stop it or run `leoflow lite --port N`")


def check_home() -> Check:
    from leoflow.lite.state import leoflow_home  # noqa: PLC0415

    home = leoflow_home()
    probe = home if home.exists() else next((p for p in home.parents if p.exists()), Path("/"))
    if os.access(probe, os.W_OK):
        return Check("Leoflow home", OK, f"{home} (LEOFLOW_HOME)")
    return Check("Leoflow home", FAIL, f"{probe} is not writable: set LEOFLOW_HOME")


def run_checks(host: str, port: int) -> list[Check]:
    checks = [check_python(), check_postgres(), check_unprivileged_user(), check_uv(), check_home(),
              check_port(host, port), check_ui(), check_node(), check_builder()]
    return [c for c in checks if c is not None]


def register(app: typer.Typer) -> None:
    @app.command("doctor")
    @reports_errors
    def doctor(
        port: Annotated[int, typer.Option(min=1, max=65535, help="The port Lite's UI will use.")] = 8088,
        host: Annotated[str, typer.Option(help="The address Lite's UI will listen on.")] = "127.0.0.1",
    ) -> None:
        """Check this machine for Leoflow Lite: PostgreSQL binaries, uv, ports, UI, editor, container builder."""
        checks = run_checks(host, port)
        table = Table(show_header=False, box=None, pad_edge=False)
        for check in checks:
            table.add_row(MARKS[check.outcome], Text(check.name), Text(check.detail))
        console.print(table)
        failed = [c.name for c in checks if c.outcome == FAIL]
        if failed:
            console.print(f"[red]Lite cannot start here yet:[/] fix {', '.join(failed)}")
            raise typer.Exit(EXIT_FAILURE)
        console.print("[green]ready for `leoflow lite`[/]")
