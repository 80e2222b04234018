"""The task's child process: started, watched, and stopped as one process group.

Invariants:
- The child leads its own process group (session), so stopping the task stops
  everything it started: SIGTERM to the group, SIGKILL after a grace period.
- When the child itself exits, what is left of its group (background jobs, stray
  grandchildren) is killed: a finished task leaves nothing running, as Airflow's
  task runner reaps its process group.
- stdout and stderr are separate pipes, read as they are produced and handed to
  `on_line(stream, text)` line by line; a partial line is handed over when no more
  output follows it for a moment, so a prompt without a newline still shows up.
- With `control=True` the child gets a pipe pair for frames (control_channel.py):
  the agent writes one work frame, answers the child's requests with `handler`,
  and keeps exactly one reply frame; a broken or silent channel is recorded as
  `channel_error`, never guessed around.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .control_channel import ControlChannel, RequestHandler, refuse_all
from .frames import MAX_FRAME_BYTES

# (stream, text, complete): complete is False for a piece of a longer or unfinished line.
LineSink = Callable[[str, str, bool], None]

_READ_CHUNK = 64 * 1024
# A line longer than this is cut into several records rather than buffered forever.
MAX_LINE_BYTES = 64 * 1024
# How long a partial line (no newline yet) waits for the rest before it is shipped.
PARTIAL_LINE_WAIT = 0.2
# After the child exits, how long its output pipes may take to reach end of file.
_DRAIN_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class ChildExit:
    """How the child ended and what it said on the control channel."""

    returncode: int
    reply: dict[str, Any] | None = None
    channel_error: str | None = None


async def pump_lines(reader: asyncio.StreamReader, stream: str, on_line: LineSink) -> None:
    """Feed `reader`'s output to `on_line` line by line until end of file."""
    pending = b""
    while True:
        try:
            chunk = await asyncio.wait_for(reader.read(_READ_CHUNK), PARTIAL_LINE_WAIT) if pending else await reader.read(_READ_CHUNK)
        except TimeoutError:
            on_line(stream, _text(pending), False)
            pending = b""
            continue
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            _emit(line, stream, on_line, complete=True)
        while len(pending) > MAX_LINE_BYTES:
            on_line(stream, _text(pending[:MAX_LINE_BYTES]), False)
            pending = pending[MAX_LINE_BYTES:]
    if pending:
        _emit(pending, stream, on_line, complete=True)


def _emit(line: bytes, stream: str, on_line: LineSink, *, complete: bool) -> None:
    """Hand over one line, cut into MAX_LINE_BYTES pieces (all but the last partial)."""
    while len(line) > MAX_LINE_BYTES:
        on_line(stream, _text(line[:MAX_LINE_BYTES]), False)
        line = line[MAX_LINE_BYTES:]
    on_line(stream, _text(line), complete)


def _text(raw: bytes) -> str:
    return raw.rstrip(b"\r").decode("utf-8", errors="backslashreplace")


def _kill_group(pgid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


class _ExitAwareProtocol(asyncio.subprocess.SubprocessStreamProtocol):
    """asyncio's protocol, plus an event set the moment the process exits.

    asyncio's Process.wait() (3.11) returns only once stdout and stderr are closed as
    well, so a background job that inherited them would keep a finished task
    "running" forever; the task's end is the child's exit, not its pipes'.
    """

    def __init__(self, limit: int, loop: asyncio.AbstractEventLoop):
        super().__init__(limit=limit, loop=loop)
        self.exited = asyncio.Event()

    def process_exited(self) -> None:
        super().process_exited()
        self.exited.set()


class ChildProcess:
    """A running child; create with `ChildProcess.start`."""

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        protocol: _ExitAwareProtocol,
        pumps: list[asyncio.Task],
        channel: ControlChannel | None,
    ):
        self._transport = transport
        self._protocol = protocol
        self._pumps = pumps
        self.channel = channel
        self.pid = transport.get_pid()

    @classmethod
    async def start(
        cls,
        argv: Sequence[str],
        *,
        cwd: str,
        env: Mapping[str, str],
        on_line: LineSink,
        control: bool = False,
        handler: RequestHandler = refuse_all,
        max_frame_bytes: int = MAX_FRAME_BYTES,
    ) -> ChildProcess:
        """Start `argv` in its own process group; with `control`, argv gets
        "--control-in R --control-out W" appended for the frame pipes, and the
        child's requests go to `handler`."""
        loop = asyncio.get_running_loop()
        pass_fds: tuple[int, ...] = ()
        to_child = from_child = None
        if control:
            to_child, from_child = os.pipe(), os.pipe()
            pass_fds = (to_child[0], from_child[1])
            argv = [*argv, "--control-in", str(to_child[0]), "--control-out", str(from_child[1])]
        try:
            transport, protocol = await loop.subprocess_exec(
                lambda: _ExitAwareProtocol(limit=_READ_CHUNK, loop=loop),
                *argv,
                cwd=cwd,
                env=dict(env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                start_new_session=True,
                pass_fds=pass_fds,
            )
        finally:
            for fd in pass_fds:  # the child's ends; ours must not keep them open
                os.close(fd)
        pumps = [
            asyncio.create_task(pump_lines(protocol.stdout, "stdout", on_line)),
            asyncio.create_task(pump_lines(protocol.stderr, "stderr", on_line)),
        ]
        channel = None
        if from_child is not None and to_child is not None:
            channel = ControlChannel(from_child[0], to_child[1], handler, max_frame_bytes=max_frame_bytes)
        return cls(transport, protocol, pumps, channel)

    async def send(self, message: dict[str, Any]) -> None:
        """Write the work frame the child waits for."""
        assert self.channel is not None, "started without control=True"
        await self.channel.send(message)

    def signal_group(self, sig: int) -> None:
        """Send `sig` to the child's whole process group."""
        _kill_group(self.pid, sig)

    async def stop(self, grace: float) -> None:
        """SIGTERM the group; SIGKILL it if the child has not exited after `grace` s."""
        self.signal_group(signal.SIGTERM)
        try:
            await asyncio.wait_for(self._protocol.exited.wait(), grace)
        except TimeoutError:
            self.signal_group(signal.SIGKILL)

    async def wait(self) -> ChildExit:
        """Wait for the child to exit, reap its group, drain its output and reply."""
        await self._protocol.exited.wait()
        returncode = self._transport.get_returncode()
        assert returncode is not None
        self.signal_group(signal.SIGKILL)  # leftovers of a finished task
        _, pending = await asyncio.wait(self._pumps, timeout=_DRAIN_TIMEOUT)
        for task in pending:  # a grandchild that left the group still holds the pipe
            task.cancel()
        self._transport.close()
        if self.channel is None:
            return ChildExit(returncode=returncode)
        self.channel.close_write()
        await self.channel.finished(_DRAIN_TIMEOUT)
        return ChildExit(returncode=returncode, reply=self.channel.reply, channel_error=self.channel.error)
