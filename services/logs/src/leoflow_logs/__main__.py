"""Composition root: `python -m leoflow_logs` serves until SIGTERM/SIGINT;
`python -m leoflow_logs migrate` only brings schema "logs" (redis backend) up to date."""

from __future__ import annotations

import asyncio
import sys

from leoflow_common.runtime import run_service
from leoflow_common.telemetry import configure_logging, configure_tracing, start_metrics_server

from .app import LogsApp
from .migrate import upgrade_database
from .settings import LogsSettings


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    settings = LogsSettings()
    configure_logging("logs", settings.telemetry)
    if argv == ["migrate"]:
        asyncio.run(upgrade_database(settings.database_url))
        return
    if argv:
        raise SystemExit(f"usage: python -m leoflow_logs [migrate] (got {' '.join(argv)!r})")
    tracer_provider = configure_tracing("logs", settings.telemetry)
    if settings.telemetry.metrics_port:
        start_metrics_server(settings.telemetry.metrics_port)

    async def serve(stop: asyncio.Event) -> None:
        app = LogsApp(settings)
        await app.start()
        try:
            await stop.wait()
        finally:
            await app.stop()

    try:
        run_service(serve)
    finally:
        tracer_provider.shutdown()  # flush spans still in the exporter


if __name__ == "__main__":
    main()
