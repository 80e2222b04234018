"""One Lite per home: an exclusive lock on <home>/lite/lite.lock.

The kernel releases a flock when its holder dies, however it dies, so a crashed
Lite never blocks the next start. The file also says who holds it (pid, URL), so
the second `leoflow lite` can say what is running."""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path


class LiteAlreadyRunning(RuntimeError):
    """Another process holds the home's lock (message says which)."""


class LiteLock:
    """Hold with `acquire()`; `release()` (or process exit) lets go."""

    def __init__(self, directory: Path):
        self.path = directory / "lite.lock"
        self._handle = None

    def acquire(self, purpose: str = "lite") -> None:
        """Take the lock or raise LiteAlreadyRunning naming the holder."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = _holder(handle.read())
            handle.close()
            raise LiteAlreadyRunning(holder) from None
        self._handle = handle
        self.describe(purpose=purpose)

    def describe(self, **details: object) -> None:
        """Record what the holder is (pid, purpose, url...) for whoever finds it locked."""
        if self._handle is None:
            return
        current = {}
        try:
            self._handle.seek(0)
            current = json.loads(self._handle.read() or "{}")
        except ValueError:
            pass
        current.update(details, pid=os.getpid())
        self._handle.seek(0)
        self._handle.truncate()
        self._handle.write(json.dumps(current))
        self._handle.flush()

    @property
    def held(self) -> bool:
        return self._handle is not None

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing drops the flock
            self._handle = None

    def __enter__(self) -> LiteLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder(text: str) -> str:
    try:
        info = json.loads(text or "{}")
    except ValueError:
        info = {}
    pid = info.get("pid", "?")
    if info.get("purpose", "lite") == "lite":
        where = f" at {info['url']}" if info.get("url") else ""
        return f"Leoflow Lite is already running for this home (pid {pid}{where})"
    return f"this Lite home is busy: `leoflow lite {info['purpose']}` is running (pid {pid})"
