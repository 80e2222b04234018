"""A replica's WORK_DIR is its own: an exclusive lock on <work_dir>/dispatcher.lock,
held while the dispatcher runs, keeps two replicas from adopting (and killing)
each other's executions."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from leoflow_common.errors import FailedPrecondition


class WorkDirLock:
    def __init__(self, work_dir: Path):
        self._path = work_dir / "dispatcher.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock; FailedPrecondition when another dispatcher holds it."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise FailedPrecondition(
                f"work dir {self._path.parent} is in use by another dispatcher (pid {holder}); "
                "give each replica a LEOFLOW_DISPATCHER_WORK_DIR of its own"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing drops the flock
            self._fd = None
