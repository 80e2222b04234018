"""Spine trace: wall-clock marks along a task's path through the services, read by
bench/spine.py to break the task-to-task gap down by hop.

Off unless the process starts with LEOFLOW_SPINE_TRACE naming a file: then every
`mark(stage, key)` appends one line "<epoch seconds> <pid> <stage> <key>" to it.
The file is opened with O_APPEND and each line is one write(), so lines from many
processes never interleave. When off, `mark` is one global lookup and a return:
nothing on the hot path pays for it. (The variable is read here, at import, and
not through a settings class because it is a benchmarking switch, never
configuration: no service behaves differently with it.)
"""

from __future__ import annotations

import os
import time

_PATH = os.environ.get("LEOFLOW_SPINE_TRACE", "")
ENABLED = bool(_PATH)
_fd: int | None = None


def _forget_file_after_fork() -> None:
    # A forked child may close every inherited descriptor (standbys and runners
    # do): it opens the file again rather than write to whatever reuses the number.
    global _fd
    _fd = None


os.register_at_fork(after_in_child=_forget_file_after_fork)


def mark(stage: str, key: str = "") -> None:
    """Record that `stage` happened now (for `key`, e.g. a task id)."""
    if not ENABLED:
        return
    global _fd
    if _fd is None:
        _fd = os.open(_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(_fd, f"{time.time():.6f} {os.getpid()} {stage} {key}\n".encode())


def envelope_key(envelope) -> str:
    """The task id an envelope is about ("" if none); only called when ENABLED."""
    from .bus._envelope import decode_payload

    try:
        payload = decode_payload(envelope)
    except Exception:  # noqa: BLE001 - a trace must never break the path it observes
        return ""
    key = getattr(payload, "key", None) or getattr(getattr(payload, "execution", None), "key", None)
    return getattr(key, "task_id", "") if key is not None else ""
