"""Composition root: settings -> telemetry -> clients -> app -> run until SIGTERM/SIGINT.

    python -m leoflow_api_gateway
"""

from __future__ import annotations

import asyncio

from leoflow_common.runtime.service import run_service
from leoflow_common.telemetry import configure_logging, configure_tracing, start_metrics_server

from .app import GatewayApp
from .settings import GatewaySettings

SERVICE_NAME = "api-gateway"


def main() -> None:
    settings = GatewaySettings()
    configure_logging(SERVICE_NAME, settings.telemetry)
    tracer_provider = configure_tracing(SERVICE_NAME, settings.telemetry)
    if settings.telemetry.metrics_port:
        start_metrics_server(settings.telemetry.metrics_port)

    async def serve(stop: asyncio.Event) -> None:
        app = GatewayApp(settings)
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
