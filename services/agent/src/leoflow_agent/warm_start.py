"""`python -P -m leoflow_agent --warm`: the warm-start template of one DAG environment.

The dispatcher's local backend starts one template per (virtualenv, bundle, DAG
file) when its warm pool is on. The template imports everything an agent needs
(interpreter, grpc, protobuf, the agent's modules), then forks *standby agents*
(standby.py) that wait, warm, for an assignment; forking from a warm template
costs a millisecond where a fresh interpreter costs ~150 ms of CPU, so a pool is
refilled for almost nothing. The template never runs a task or user code, never
starts a thread, an event loop or a gRPC channel (fork is only safe without them).

Invariants:
- at most LEOFLOW_AGENT_WARM_STANDBYS idle standbys exist at any time; each
  assignment goes to exactly one standby, which runs exactly that one try and
  exits (one OS process per try, never reused);
- an assignment is answered exactly once: "accepted" (by the standby that took
  it) or "refused" (no standby, or it ended before taking it: start it cold);
- every accepted standby's end is reported with its exit code ("exited");
- end of stdin or "drain": no new standby or assignment; idle standbys are told
  to go (end of file on their pipe); the template exits once its accepted
  standbys have all ended, so their exit codes are still reported.

Protocol (frames.py format: 4-byte big-endian length + JSON object with "type"):

    stdin, dispatcher -> template
        {"type": "assign", "id": str, "assignment": {dispatcher_address, token,
         bundle_dir, stdout, stderr}}          hand one standby this assignment
        {"type": "drain"}                      stop (so does end of file)
    fd LEOFLOW_AGENT_WARM_EVENTS_FD, template -> dispatcher
        {"type": "standby", "pid": int}                  a standby was forked
        {"type": "accepted", "id": str, "pid": int}      pid runs the try
        {"type": "refused", "id": str, "reason": str}    start it cold
        {"type": "exited", "pid": int, "returncode": int}  an accepted standby ended
        {"type": "failing", "reason": str}    standbys keep dying: none is forked any more

Environment: LEOFLOW_AGENT_BUNDLE_DIR, LEOFLOW_AGENT_WARM_EVENTS_FD (required),
LEOFLOW_AGENT_WARM_STANDBYS (default 2), LEOFLOW_AGENT_WARM_DAG_FILE (the DAG file
whose top-level imports runners load ahead; unset: none),
LEOFLOW_AGENT_WARM_CONNECT_AHEAD (comma-separated control-plane addresses standbys
connect to while they wait), and the agent's options (assignment.options_from_env).
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import selectors
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import standby
from .assignment import ConfigurationError, options_from_env
from .frames import HEADER, FrameError, decode_payload, encode_frame, parse_length

log = logging.getLogger("leoflow.agent.warm")

EXIT_OK = 0
EXIT_CONFIGURATION = 2
# Standbys that die before becoming ready, in a row, before the template stops forking.
MAX_CONSECUTIVE_FAILURES = 3
# An "assign" command carries the assignment (standby.MAX_ASSIGNMENT_BYTES at most).
_MAX_COMMAND_BYTES = standby.MAX_ASSIGNMENT_BYTES + 64 * 1024
# While another standby is ready, the replacement of one that took a try is forked
# when that try's agent exits, or after this long (seconds) if it runs on: forked at
# once, the replacement (and its runner, and their connections) would compete for
# the CPU with the try that is starting, and the next try loses nothing by waiting.
REFILL_DELAY = 1.0
# What runner.py imports lazily when work arrives, the shim every DAG imports, and
# what the agent itself imports late.
WARM_MODULES = (
    "leoflow_agent.dagfile",
    "leoflow_agent.runner_tasks",
    "leoflow_agent.context",
    "airflow.sdk",
    "airflow._shim.context",
    "airflow._shim.runtime",
    "airflow._shim.templater",
    # What the shim's context and templates import when first used (pendulum alone
    # is ~40 ms of a runner's start).
    "pendulum",
    "dateutil.parser",
    "jinja2",
    # What an agent imports on its first assignment (context.py reads Structs with it).
    "google.protobuf.json_format",
)


class FrameBuffer:
    """Frames arriving in pieces on a non-blocking pipe (fail closed, frames.py)."""

    def __init__(self, max_bytes: int):
        self._data = bytearray()
        self._max = max_bytes

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        self._data += chunk
        frames = []
        while len(self._data) >= HEADER.size:
            length = parse_length(bytes(self._data[: HEADER.size]), max_bytes=self._max)
            if len(self._data) < HEADER.size + length:
                break
            payload = bytes(self._data[HEADER.size : HEADER.size + length])
            del self._data[: HEADER.size + length]
            frames.append(decode_payload(payload))
        return frames


@dataclass
class _Standby:
    pid: int
    assign_fd: int | None
    status_fd: int | None
    statuses: FrameBuffer = field(default_factory=lambda: FrameBuffer(4096))
    ready: bool = False
    # The assignment handed to it, and whether it answered for it.
    handed: str | None = None
    answered: bool = False
    accepted: bool = False


class Template:
    """The template's state and event loop (see the module docstring)."""

    def __init__(self, *, events_fd: int, standbys: int, config: standby.StandbyConfig):
        self._events_fd: int | None = events_fd
        self._size = standbys
        self._config = config
        self._selector = selectors.DefaultSelector()
        self._standbys: dict[int, _Standby] = {}
        self._by_status_fd: dict[int, _Standby] = {}
        self._commands = FrameBuffer(_MAX_COMMAND_BYTES)
        self._draining = False
        self._failures = 0
        self._wake_read, self._wake_write = os.pipe()
        # When a deferred refill is due (monotonic), if one is pending.
        self._refill_at: float | None = None

    # -- the loop --------------------------------------------------------------------

    def run(self) -> int:
        os.set_blocking(0, False)
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.set_wakeup_fd(self._wake_write)
        self._selector.register(0, selectors.EVENT_READ, "commands")
        self._selector.register(self._wake_read, selectors.EVENT_READ, "children")
        self._fill()
        while not (self._draining and not self._standbys):
            timeout = None if self._refill_at is None else max(0.0, self._refill_at - time.monotonic())
            for key, _ in self._selector.select(timeout):
                if key.data == "commands":
                    self._read_commands()
                elif key.data == "children":
                    with contextlib.suppress(BlockingIOError):
                        os.read(self._wake_read, 4096)
                    self._reap()
                else:
                    self._read_status(key.data)
            self._reap()  # a signal may have arrived between select() and here
            if self._refill_at is not None and time.monotonic() >= self._refill_at:
                self._fill()
        return EXIT_OK

    def _read_commands(self) -> None:
        try:
            chunk = os.read(0, 65536)
        except BlockingIOError:
            return
        if not chunk:
            self._selector.unregister(0)
            self._drain()
            return
        try:
            commands = self._commands.feed(chunk)
        except FrameError as exc:  # the dispatcher is broken: stop taking its commands
            log.error("malformed command from the dispatcher: %s; draining", exc)
            self._selector.unregister(0)
            self._drain()
            return
        for command in commands:
            if command["type"] == "assign":
                self._assign(command)
            elif command["type"] == "drain":
                self._drain()
            else:
                log.warning("ignoring unknown command %r", command["type"])

    # -- standbys --------------------------------------------------------------------

    def _idle(self) -> list[_Standby]:
        return [s for s in self._standbys.values() if s.handed is None and s.assign_fd is not None]

    def _fill(self) -> None:
        self._refill_at = None
        while (
            not self._draining
            and self._failures < MAX_CONSECUTIVE_FAILURES
            and len(self._idle()) < self._size
        ):
            self._fork_standby()

    def _fork_standby(self) -> None:
        assign_read, assign_write = os.pipe()
        status_read, status_write = os.pipe()
        pid = os.fork()
        if pid == 0:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            _close_all_but({1, 2, assign_read, status_write})
            standby.serve(assign_read, status_write, self._config)
        os.close(assign_read)
        os.close(status_write)
        os.set_blocking(status_read, False)
        record = _Standby(pid, assign_write, status_read)
        self._standbys[pid] = record
        self._by_status_fd[status_read] = record
        self._selector.register(status_read, selectors.EVENT_READ, record)
        self._emit({"type": "standby", "pid": pid})

    def _assign(self, command: dict[str, Any]) -> None:
        request_id = str(command.get("id", ""))
        assignment = command.get("assignment")
        if self._draining or not isinstance(assignment, dict):
            self._emit(
                {
                    "type": "refused",
                    "id": request_id,
                    "reason": "the warm pool is draining"
                    if self._draining
                    else "no assignment given",
                }
            )
            return
        # A ready standby first; one still starting beats a cold start.
        for candidate in sorted(self._idle(), key=lambda s: not s.ready):
            try:
                _write_all(
                    candidate.assign_fd,
                    encode_frame({**assignment, "type": "assignment", "id": request_id}),
                )
            except (OSError, FrameError, ValueError, TypeError) as exc:
                log.warning("could not hand an assignment to standby %d: %s", candidate.pid, exc)
                self._close_assign(candidate)
                continue
            self._close_assign(candidate)
            candidate.handed = request_id
            return  # its replacement comes once it answered (the answer is on the hot path)
        self._emit({"type": "refused", "id": request_id, "reason": "no standby agent is available"})

    def _read_status(self, record: _Standby) -> None:
        fd = record.status_fd
        assert fd is not None
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        if chunk:
            try:
                messages = record.statuses.feed(chunk)
            except FrameError as exc:
                log.error("standby %d sent a malformed status: %s", record.pid, exc)
                messages, chunk = [], b""
            for message in messages:
                self._on_status(record, message)
            if chunk:
                return
        # End of file (or garbage): the standby is gone or done talking.
        self._selector.unregister(fd)
        del self._by_status_fd[fd]
        os.close(fd)
        record.status_fd = None
        if record.handed is not None and not record.answered:
            record.answered = True
            self._emit(
                {
                    "type": "refused",
                    "id": record.handed,
                    "reason": "the standby agent ended before taking the assignment",
                }
            )
            self._fill()

    def _on_status(self, record: _Standby, message: dict[str, Any]) -> None:
        kind = message["type"]
        if kind == "ready":
            record.ready = True
            self._failures = 0
        elif kind in ("accepted", "refused") and record.handed is not None and not record.answered:
            record.answered = True
            if kind == "accepted":
                record.accepted = True
                self._emit({"type": "accepted", "id": record.handed, "pid": record.pid})
            else:
                self._emit(
                    {
                        "type": "refused",
                        "id": record.handed,
                        "reason": str(message.get("reason", "")),
                    }
                )
            self._refill_soon()

    def _refill_soon(self) -> None:
        """Fill now if no idle standby is ready, else later (REFILL_DELAY)."""
        if not any(s.ready for s in self._idle()):
            self._fill()
        elif self._refill_at is None:
            self._refill_at = time.monotonic() + REFILL_DELAY

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            record = self._standbys.pop(pid, None)
            if record is None:
                continue
            if record.status_fd is not None:
                self._read_status(record)  # whatever it said last, then its end of file
            self._close_assign(record)
            if record.accepted:
                self._emit(
                    {"type": "exited", "pid": pid, "returncode": os.waitstatus_to_exitcode(status)}
                )
                if self._refill_at is not None:
                    self._fill()  # its try is over: the deferred refill is due
            elif record.handed is None and not self._draining:
                self._failures += 0 if record.ready else 1
                if self._failures == MAX_CONSECUTIVE_FAILURES:
                    self._emit(
                        {
                            "type": "failing",
                            "reason": f"{MAX_CONSECUTIVE_FAILURES} standby agents in a row died while starting",
                        }
                    )
                self._fill()

    def _drain(self) -> None:
        if self._draining:
            return
        self._draining = True
        for record in self._idle():
            self._close_assign(record)  # end of file: the standby exits, its runner too

    def _close_assign(self, record: _Standby) -> None:
        if record.assign_fd is not None:
            os.close(record.assign_fd)
            record.assign_fd = None

    def _emit(self, event: dict[str, Any]) -> None:
        if self._events_fd is None:
            return
        try:
            _write_all(self._events_fd, encode_frame(event))
        except OSError:  # the dispatcher is gone: keep reaping, quietly
            os.close(self._events_fd)
            self._events_fd = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _close_all_but(keep: set[int]) -> None:
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = list(range(3, 1024))
    for fd in open_fds:
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def config_from_env(environ: Mapping[str, str]) -> tuple[int, int, standby.StandbyConfig]:
    """(events fd, standbys, config) from the template's environment."""
    bundle = environ.get("LEOFLOW_AGENT_BUNDLE_DIR", "").strip()
    if not bundle or not Path(bundle).is_dir():
        raise ConfigurationError(f"LEOFLOW_AGENT_BUNDLE_DIR {bundle!r} is not a directory")
    try:
        events_fd = int(environ.get("LEOFLOW_AGENT_WARM_EVENTS_FD", ""))
        standbys = int(environ.get("LEOFLOW_AGENT_WARM_STANDBYS", "2") or "2")
    except ValueError:
        raise ConfigurationError(
            "LEOFLOW_AGENT_WARM_EVENTS_FD and LEOFLOW_AGENT_WARM_STANDBYS must be integers"
        ) from None
    if standbys < 1:
        raise ConfigurationError("LEOFLOW_AGENT_WARM_STANDBYS must be at least 1")
    try:
        os.fstat(events_fd)
    except OSError:
        raise ConfigurationError(
            f"LEOFLOW_AGENT_WARM_EVENTS_FD {events_fd} is not an open file descriptor"
        ) from None
    dag_file = environ.get("LEOFLOW_AGENT_WARM_DAG_FILE", "").strip()
    addresses = environ.get("LEOFLOW_AGENT_WARM_CONNECT_AHEAD", "")
    options = options_from_env(environ)
    private = ("LEOFLOW_AGENT_WARM_",)
    config = standby.StandbyConfig(
        bundle_dir=Path(bundle).resolve(),
        dag_file=dag_file,
        preimport=bool(dag_file),
        base_env={k: v for k, v in environ.items() if not k.startswith(private)},
        options={"connect_timeout": options.connect_timeout, "kill_grace": options.kill_grace},
        warm_addresses=tuple(a.strip() for a in addresses.split(",") if a.strip()),
    )
    return events_fd, standbys, config


def warm_imports() -> None:
    """Import what every runner imports when its work arrives (the agent's own
    modules and its `airflow` shim: no user code, no threads), once, here: every
    standby and runner forked from the template then has them for nothing."""
    for name in WARM_MODULES:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - a runner imports it again and reports
            log.warning("could not import %s ahead: %s", name, exc)


def freeze_heap() -> None:
    """Move everything alive now out of the garbage collector's reach (gc.freeze):
    a forked child's collections then never walk the inherited heap, which would
    write to every object's GC header and copy most of the parent's pages into the
    child (CPU on every start, memory no longer shared)."""
    gc.collect()
    gc.freeze()


def main(environ: Mapping[str, str]) -> int:
    """Run the template until drained; its exit code."""
    try:
        events_fd, standbys, config = config_from_env(environ)
    except ConfigurationError as exc:
        log.error("cannot start the warm-start template: %s", exc)
        return EXIT_CONFIGURATION
    warm_imports()
    freeze_heap()
    return Template(events_fd=events_fd, standbys=standbys, config=config).run()
