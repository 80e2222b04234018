"""Composition root: settings -> telemetry -> app -> run until SIGTERM/SIGINT.

    python -m leoflow_scheduler            run the service
    python -m leoflow_scheduler migrate    only migrate the database (Kubernetes Job)

Invalid settings or a start-up failure end the process with a clear message
and exit status 2.
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg
from leoflow_common.errors import LeoflowError
from leoflow_common.runtime import run_service
from leoflow_common.telemetry import configure_logging, configure_tracing, start_metrics_server
from pydantic import ValidationError

from . import migrations
from .app import SchedulerApp
from .settings import SchedulerSettings

SERVICE = "scheduler"
USAGE = "usage: python -m leoflow_scheduler [migrate]"


async def serve(settings: SchedulerSettings, stop: asyncio.Event) -> None:
    """Run one scheduler replica until `stop` is set."""
    app = SchedulerApp(settings)
    await app.start()
    try:
        await stop.wait()
    finally:
        await app.stop()


def main(argv: list[str] | None = None) -> int:
    """Run the service (or only migrate); returns the process exit status."""
    args = sys.argv[1:] if argv is None else argv
    if args not in ([], ["migrate"]):
        return _fatal(USAGE)
    try:
        settings = SchedulerSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        return _fatal(f"invalid scheduler settings: {problems}")
    configure_logging(SERVICE, settings.telemetry)
    try:
        if args == ["migrate"]:
            asyncio.run(migrations.upgrade(settings.database_url))
            return 0
        configure_tracing(SERVICE, settings.telemetry)
        if settings.telemetry.metrics_port:
            start_metrics_server(settings.telemetry.metrics_port)
        run_service(lambda stop: serve(settings, stop))
    except (LeoflowError, OSError, ValueError, asyncpg.PostgresError) as exc:
        return _fatal(f"scheduler could not run: {getattr(exc, 'message', None) or exc}")
    return 0


def _fatal(message: str) -> int:
    print(f"leoflow-scheduler: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
