"""Helpers for tests: poll for a condition, pick free ports."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def assert_eventually(check: Callable[[], Awaitable[T]], *, timeout: float = 10.0, interval: float = 0.02, message: str = "") -> T:
    """Poll `check()` until it returns a truthy value and return it; fail after `timeout`.
    An AssertionError raised by `check` counts as "not yet"."""
    deadline = time.monotonic() + timeout
    last: object = None
    while True:
        try:
            result = await check()
            if result:
                return result
            last = result
        except AssertionError as exc:
            last = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s{': ' + message if message else ''} (last: {last!r})")
        await asyncio.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
