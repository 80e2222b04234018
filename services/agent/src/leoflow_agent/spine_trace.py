"""Spine trace: wall-clock marks along a task's path, read by bench/spine.py.

The agent's copy of leoflow_common.spine_trace (the agent imports no control-plane
code). Off unless LEOFLOW_SPINE_TRACE names a file; then `mark(stage)` appends
"<epoch seconds> <pid> <stage> <key>" to it in one O_APPEND write. When off, a mark
costs a global lookup. It is a benchmarking switch, not configuration: nothing
behaves differently with it, which is why it is read here and not in assignment.py.
"""

from __future__ import annotations

import os
import time
from typing import Any

_PATH = os.environ.get("LEOFLOW_SPINE_TRACE", "")
ENABLED = bool(_PATH)
_fd: int | None = None


def _forget_file_after_fork() -> None:
    # A forked child may close every inherited descriptor (standbys and runners
    # do): it opens the file again rather than write to whatever reuses the number.
    global _fd
    _fd = None


os.register_at_fork(after_in_child=_forget_file_after_fork)
# What the marks are about: the task id, once the agent knows it.
key = ""

_TRACED_CALLS = ("register", "get_task_spec", "resolve_arguments", "report_state", "push_xcom")


def mark(stage: str) -> None:
    """Record that `stage` happened now."""
    if not ENABLED:
        return
    global _fd
    if _fd is None:
        _fd = os.open(_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(_fd, f"{time.time():.6f} {os.getpid()} {stage} {key}\n".encode())


def mark_process_start() -> None:
    """Record when this process was created (from /proc; clock-tick resolution)."""
    if not ENABLED:
        return
    try:
        ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
        boot = next(
            float(line.split()[1]) for line in open("/proc/stat") if line.startswith("btime ")
        )
    except (OSError, ValueError, IndexError, StopIteration):
        return
    created = boot + ticks / os.sysconf("SC_CLK_TCK")
    global _fd
    if _fd is None:
        _fd = os.open(_PATH, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    os.write(_fd, f"{created:.6f} {os.getpid()} agent.process_created {key}\n".encode())


def trace_calls(control_plane: Any) -> None:
    """Mark the start and end of `control_plane`'s RPCs (only when tracing)."""
    if not ENABLED:
        return
    for name in _TRACED_CALLS:
        method = getattr(control_plane, name)

        async def traced(
            *args: Any, _method: Any = method, _name: str = name, **kwargs: Any
        ) -> Any:
            stage = _name
            if _name == "report_state" and args:
                stage = f"report_state:{getattr(args[0], 'state', '')}"
            mark(f"agent.{stage}.sent")
            try:
                return await _method(*args, **kwargs)
            finally:
                mark(f"agent.{stage}.done")

        setattr(control_plane, name, traced)
