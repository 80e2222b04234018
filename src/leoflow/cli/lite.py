"""`leoflow lite [WORKSPACE]`: run all of Leoflow locally; `leoflow lite
reset-password | backup | restore`: look after a Lite home."""

from __future__ import annotations

import asyncio
import os
import signal
import traceback
from pathlib import Path
from typing import Annotated

import click
import typer
from typer.core import TyperGroup

from ._common import console, reports_errors
from ._errors import EXIT_BAD_INPUT, EXIT_FAILURE, CliError

DEFAULT_WORKSPACE = Path.home() / "leoflow"


class _LiteGroup(TyperGroup):
    """`leoflow lite [WORKSPACE]` runs Lite; `leoflow lite <subcommand>` runs a subcommand.

    Click cannot mix an optional argument with subcommands, so anything that is not
    a subcommand name is handed to the hidden `run` command."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


def _lite_errors(exc: BaseException) -> CliError | None:
    """The one-line CLI error for what Lite's modules raise (None: not theirs)."""
    from leoflow_common.errors import LeoflowError  # noqa: PLC0415 - heavy imports only when used

    from leoflow.lite.backup import BackupError  # noqa: PLC0415
    from leoflow.lite.database import LiteNotSetUp
    from leoflow.lite.lock import LiteAlreadyRunning
    from leoflow.lite.passwords import UnknownUser
    from leoflow.lite.postgres import PostgresError
    from leoflow.lite.supervisor import LiteStartError

    if isinstance(exc, UnknownUser | BackupError):
        return CliError(str(exc), getattr(exc, "exit_code", EXIT_BAD_INPUT))
    if isinstance(exc, LiteAlreadyRunning | LiteNotSetUp | PostgresError | LiteStartError):
        return CliError(str(exc), EXIT_FAILURE)
    if isinstance(exc, LeoflowError):  # a service that could not start (a port taken...)
        return CliError(exc.message, EXIT_FAILURE)
    if isinstance(exc, OSError):
        return CliError(f"{exc.strerror or exc}{f': {exc.filename}' if exc.filename else ''}", EXIT_FAILURE)
    return None


def _run_lite(coro) -> object:
    """asyncio.run, with Lite's own errors turned into one CLI line; anything
    unexpected is one line too, its traceback kept in a file for a bug report."""
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        raise CliError("interrupted", 130) from None
    except Exception as exc:
        error = _lite_errors(exc)
        if error is not None:
            raise error from None
        raise CliError(f"unexpected error: {type(exc).__name__}: {exc} (traceback in {_keep_traceback(exc)})") from None


def _keep_traceback(exc: BaseException) -> Path:
    from leoflow.lite.state import LiteState  # noqa: PLC0415

    path = LiteState.directory() / "last-error.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(traceback.format_exception(exc)))
    except OSError:
        pass
    return path


def register(app: typer.Typer) -> None:
    lite = typer.Typer(
        cls=_LiteGroup,
        help="Run Leoflow Lite: all services, the Airflow UI and your DAGs on this machine.\n\n"
        "`leoflow lite [WORKSPACE] [--host H] [--port P] [--no-watch] [--log-json]` starts it "
        "(details: `leoflow lite run --help`); the commands below look after a Lite home.",
    )
    app.add_typer(lite, name="lite")

    @lite.command("run", hidden=True)
    @reports_errors
    def run(
        workspace: Annotated[Path, typer.Argument(help="DAG workspace (default ~/leoflow); examples are copied into a new one.")] = DEFAULT_WORKSPACE,
        host: Annotated[str, typer.Option(help="Address the UI and API listen on. Anything but loopback still requires login.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=0, max=65535, help="Port of the UI and API.")] = 8088,
        log_json: Annotated[bool, typer.Option("--log-json", help="Log JSON lines instead of readable text.")] = False,
        watch: Annotated[bool, typer.Option("--watch/--no-watch", help="Hot reload: recompile a DAG folder when it changes.")] = True,
    ) -> None:
        """Start Lite and keep it running until Ctrl-C."""
        from leoflow.lite.console import ConsoleReporter, configure_logging  # noqa: PLC0415 - heavy imports only here
        from leoflow.lite.supervisor import LiteOptions, LiteSupervisor

        workspace = workspace.expanduser()
        if workspace.exists() and not workspace.is_dir():
            raise CliError(f"workspace {workspace} is not a directory", EXIT_BAD_INPUT)
        configure_logging(console, json_lines=log_json)
        reporter = ConsoleReporter(console)
        supervisor = LiteSupervisor(
            LiteOptions(workspace=workspace.resolve(), host=host, port=port, log_json=log_json, watch=watch),
            printer=lambda line: console.print(line, soft_wrap=True, markup=False),
            reporter=reporter,
        )
        try:
            _run_lite(_serve(supervisor))
        finally:
            reporter.close()

    @lite.command("reset-password")
    @reports_errors
    def reset_password(
        user: Annotated[str, typer.Option(help="User whose password to reset.")] = "admin",
    ) -> None:
        """Set a new random password for a Lite user and print it (Lite may be running or not)."""
        from leoflow.lite.passwords import reset_password as do_reset  # noqa: PLC0415

        password = _run_lite(do_reset(user))
        console.print(f"new password for {user}: {password}", markup=False)

    @lite.command("backup")
    @reports_errors
    def backup(
        output: Annotated[Path, typer.Option("--output", "-o", help="The .tar.gz file to write.")],
        workspace: Annotated[Path | None, typer.Option(help="The workspace to include (default: the one Lite last served).")] = None,
        force: Annotated[bool, typer.Option("--force", help="Overwrite OUTPUT if it exists.")] = False,
    ) -> None:
        """Back up Lite: its database (pg_dump), the workspace, state, task logs and DAG bundles."""
        from leoflow.lite.backup import create_backup  # noqa: PLC0415
        from leoflow.lite.state import LiteState  # noqa: PLC0415

        workspace = workspace or Path(LiteState.load().workspace or DEFAULT_WORKSPACE)
        if output.exists() and not force:
            raise CliError(f"{output} exists: pass --force to overwrite it", EXIT_BAD_INPUT)
        manifest = _run_lite(create_backup(output.expanduser().resolve(), workspace.expanduser().resolve(), console=console))
        console.print(f"backup written to {output} ({manifest['size_bytes']:,} bytes; contains Lite's secrets: keep it private)", markup=False)

    @lite.command("restore")
    @reports_errors
    def restore(
        input_: Annotated[Path, typer.Option("--input", "-i", help="A .tar.gz written by `leoflow lite backup`.")],
        workspace: Annotated[Path | None, typer.Option(help="Where to restore the workspace (default: where it was backed up from).")] = None,
        force: Annotated[bool, typer.Option("--force", help="Replace this home's existing database and workspace.")] = False,
    ) -> None:
        """Restore a backup into this Lite home (Lite must not be running)."""
        from leoflow.lite.backup import restore_backup  # noqa: PLC0415

        if not input_.is_file():
            raise CliError(f"{input_} is not a file", EXIT_BAD_INPUT)
        restored = _run_lite(
            restore_backup(input_.expanduser().resolve(), workspace.expanduser().resolve() if workspace else None,
                           force=force, console=console)
        )
        console.print(f"restored: workspace {restored['workspace']}; start it with `leoflow lite {restored['workspace']}`", markup=False)


async def _serve(supervisor) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        if stop.is_set():  # a second Ctrl-C: do not wait for a clean stop
            console.print("stopping now", markup=False)
            supervisor.kill()
            os._exit(130)
        stop.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    starting = asyncio.create_task(supervisor.start())
    stopped = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not starting.done():  # Ctrl-C during start-up: stop at once
            starting.cancel()
            await asyncio.gather(starting, return_exceptions=True)
            return
        starting.result()  # a failed start raises here (it stopped what it started)
        await stopped
    finally:
        stopped.cancel()
        if starting.done() and not starting.cancelled() and starting.exception() is None:
            console.print("stopping Leoflow Lite", markup=False)
        await supervisor.stop()
