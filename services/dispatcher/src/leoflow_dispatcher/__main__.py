"""Composition root: `python -m leoflow_dispatcher`.

settings (from the environment, once) -> DispatcherApp -> run until SIGTERM/SIGINT.
Invalid settings end the process with a clear message and exit status 2.
"""

from __future__ import annotations

import asyncio
import sys

from leoflow_common.errors import LeoflowError
from leoflow_common.runtime import run_service
from leoflow_common.telemetry import configure_logging, configure_tracing, start_metrics_server
from pydantic import ValidationError

from .app import DispatcherApp
from .settings import DispatcherSettings


async def serve(settings: DispatcherSettings, stop: asyncio.Event) -> None:
    """Run one dispatcher until `stop` is set."""
    app = DispatcherApp(settings)
    await app.start()
    try:
        await stop.wait()
    finally:
        await app.stop()


def main() -> None:
    try:
        settings = DispatcherSettings()
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'settings'}: {e['msg']}" for e in exc.errors()
        )
        sys.exit(_fatal(f"invalid dispatcher settings: {problems}"))
    configure_logging("dispatcher", settings.telemetry)
    tracer_provider = configure_tracing("dispatcher", settings.telemetry)
    try:
        if settings.telemetry.metrics_port:
            start_metrics_server(settings.telemetry.metrics_port)
        run_service(lambda stop: serve(settings, stop))
    except (LeoflowError, OSError) as exc:
        sys.exit(_fatal(f"dispatcher could not run: {getattr(exc, 'message', None) or exc}"))
    finally:
        tracer_provider.shutdown()  # flush spans still in the exporter


def _fatal(message: str) -> int:
    print(f"leoflow-dispatcher: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    main()
