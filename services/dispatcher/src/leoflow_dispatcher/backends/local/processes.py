"""OS process plumbing of the local backend: pid files, liveness, group signals.

A pid file holds the pid and the process's start time (from /proc where there is
one), so a pid the kernel reused for another process is never taken for ours —
neither when adopting after a restart nor when sending a signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ProcessIdentity:
    pid: int
    # Start time in clock ticks since boot (/proc/<pid>/stat field 22); None where
    # the platform does not tell.
    start_time: int | None


def identify(pid: int) -> ProcessIdentity:
    """The identity of running process `pid`."""
    return ProcessIdentity(pid, _start_time(pid))


def write_pid_file(path: Path, identity: ProcessIdentity) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    start = "" if identity.start_time is None else str(identity.start_time)
    tmp.write_text(f"{identity.pid} {start}\n")
    os.replace(tmp, path)


def read_pid_file(path: Path) -> ProcessIdentity | None:
    """The identity a pid file holds, None when there is no readable one."""
    try:
        fields = path.read_text().split()
        pid = int(fields[0])
        start = int(fields[1]) if len(fields) > 1 else None
    except (OSError, ValueError, IndexError):
        return None
    return ProcessIdentity(pid, start) if pid > 1 else None


def is_running(identity: ProcessIdentity) -> bool:
    """True when that very process still runs (not a zombie, not a reused pid)."""
    try:
        os.kill(identity.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else: the start time decides
    stat = _stat_fields(identity.pid)
    if stat is None:
        return identity.start_time is None
    if stat[0] == "Z":  # a zombie runs nothing
        return False
    return identity.start_time is None or _field_start_time(stat) == identity.start_time


def signal_group(
    identity: ProcessIdentity, sig: signal.Signals, *, leader_checked: bool = True
) -> None:
    """Send `sig` to the process group `identity` leads (its own session).
    With `leader_checked`, only while the leader is still that very process."""
    if leader_checked and not is_running(identity):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(identity.pid, sig)


async def wait_for_exit(process: subprocess.Popen, *, poll_interval: float) -> int:
    """Wait for our child `process` to end and return its exit code (negative: the
    signal that killed it). Event-driven through a pidfd where the kernel has them,
    else by polling."""
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        pidfd = None
    if pidfd is None:
        while process.poll() is None:  # noqa: ASYNC110 - no pidfd: nothing to wait on but time
            await asyncio.sleep(poll_interval)
        return process.returncode
    loop = asyncio.get_running_loop()
    readable = asyncio.Event()
    loop.add_reader(pidfd, readable.set)
    try:
        while process.poll() is None:
            await readable.wait()
            readable.clear()
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
    return process.returncode


async def wait_until_gone(identity: ProcessIdentity, *, poll_interval: float) -> None:
    """Wait for a process that is not our child to end (nobody tells us: poll)."""
    while is_running(identity):  # noqa: ASYNC110 - nothing to wait on but time
        await asyncio.sleep(poll_interval)


def process_tree(roots: set[int]) -> dict[int, list[ProcessIdentity]]:
    """The live descendants of each root pid ({} where there is no /proc). Agents
    may start user code in sessions of their own, so the process group alone does
    not hold everything an execution started.

    Walks down from the roots through /proc/<pid>/task/<tid>/children where the
    kernel has those files (a few reads per execution), else scans all of /proc
    (a read per process on the machine: that runs every supervision pass)."""
    if _HAS_CHILDREN_FILES:
        return {root: _walk_down(root) for root in roots}
    return _scan_proc(roots)


def _walk_down(root: int) -> list[ProcessIdentity]:
    found, pending = [], [root]
    while pending:
        pid = pending.pop()
        try:
            threads = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue  # gone meanwhile
        for tid in threads:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as handle:
                    children = handle.read().split()
            except OSError:
                continue  # the thread ended meanwhile
            for child in map(int, children):
                fields = _stat_fields(child)
                if fields is None or fields[0] == "Z":
                    continue
                found.append(ProcessIdentity(child, _field_start_time(fields)))
                pending.append(child)
    return found


def _scan_proc(roots: set[int]) -> dict[int, list[ProcessIdentity]]:
    children: dict[int, list[ProcessIdentity]] = {}
    try:
        entries = [entry.name for entry in os.scandir("/proc") if entry.name.isdigit()]
    except OSError:
        return {}
    for name in entries:
        fields = _stat_fields(int(name))
        if fields is None or fields[0] == "Z":
            continue
        try:
            parent = int(fields[1])
        except (IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(
            ProcessIdentity(int(name), _field_start_time(fields))
        )
    trees: dict[int, list[ProcessIdentity]] = {}
    for root in roots:
        found, pending = [], [root]
        while pending:
            for child in children.get(pending.pop(), ()):
                found.append(child)
                pending.append(child.pid)
        trees[root] = found
    return trees


def _has_children_files() -> bool:
    # CONFIG_PROC_CHILDREN: not every kernel has it.
    return os.path.exists(f"/proc/{os.getpid()}/task/{os.getpid()}/children")


_HAS_CHILDREN_FILES = _has_children_files()


def signal_process(identity: ProcessIdentity, sig: signal.Signals) -> None:
    """Send `sig` to that very process, and to the group it leads if it leads one."""
    if not is_running(identity):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(identity.pid, sig)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(identity.pid, sig)


def tail(path: Path, *, max_bytes: int = 4096, max_lines: int = 30) -> str:
    """The last lines of a text file ("" when there is none)."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return ""
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]  # the first line was cut
    return "\n".join(lines[-max_lines:])


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Fields after "(comm)": comm may hold spaces and parentheses, so cut at the last ")".
    return raw[raw.rfind(")") + 2 :].split()


def _field_start_time(fields: list[str]) -> int | None:
    # fields[0] is field 3 (state); start time is field 22.
    try:
        return int(fields[19])
    except (IndexError, ValueError):
        return None


def _start_time(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return None if fields is None else _field_start_time(fields)
