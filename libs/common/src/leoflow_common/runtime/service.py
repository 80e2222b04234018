"""Run a service's main coroutine until SIGTERM/SIGINT, then let it shut down."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable


def run_service(main: Callable[[asyncio.Event], Awaitable[None]]) -> None:
    """asyncio.run(main(stop)) where `stop` is set on SIGTERM or SIGINT."""

    async def runner() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await main(stop)

    asyncio.run(runner())
