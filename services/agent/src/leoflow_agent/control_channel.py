"""The agent's side of the control pipes to a child runner.

Frames (frames.py) both ways on a dedicated pipe pair:

    agent -> child  optionally a "prepare" frame (load the DAG file ahead, run
                    nothing of the task), one work frame ("run", "render",
                    "callback", "dag_callback"), then one "response" per
                    "request" the child sends
    child -> agent  any number of {"type": "request", "id", "op", ...} while user
                    code runs, then exactly one "result" or "error" frame

Invariants: requests are answered in order, one at a time (the child waits for
each answer); the first "result"/"error" frame is the reply and nothing after it
counts; a malformed frame or an unknown frame type ends the channel with
`error` set, and the agent fails the task with it instead of guessing. A handler
that refuses a request (RequestRefused) answers ok=false with its message; any
other exception in a handler is the agent's bug, logged and answered the same
way so user code sees an error rather than hanging.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from .frames import FrameError, encode_frame, read_frame_async

log = logging.getLogger("leoflow.agent")

# op name -> the request frame -> the response value (JSON-able).
RequestHandler = Callable[[dict[str, Any]], Awaitable[Any]]

_REPLY_TYPES = frozenset({"result", "error"})


class RequestRefused(Exception):
    """A request the agent will not or cannot serve; the message goes to the child."""


async def refuse_all(request: dict[str, Any]) -> Any:
    raise RequestRefused(f"the agent serves no {request.get('op')!r} requests for this child")


class ControlChannel:
    """Reads the child's frames, answers its requests, keeps its reply."""

    def __init__(self, read_fd: int, write_fd: int, handler: RequestHandler, *, max_frame_bytes: int):
        self._read_fd = read_fd
        self._write_fd: int | None = write_fd
        self._handler = handler
        self._max_frame_bytes = max_frame_bytes
        self._write_lock = asyncio.Lock()
        self.reply: dict[str, Any] | None = None
        self.error: str | None = None
        self.requests_served = 0
        self._task = asyncio.create_task(self._read_loop())

    async def send(self, frame: dict[str, Any]) -> None:
        """Write one frame to the child; a failure is recorded, never raised."""
        try:
            data = encode_frame(frame, max_bytes=self._max_frame_bytes)
        except (FrameError, ValueError, TypeError) as exc:
            self.error = self.error or f"could not encode a {frame.get('type')!r} frame: {exc}"
            return
        async with self._write_lock:
            fd = self._write_fd
            if fd is None:
                return
            try:
                await asyncio.to_thread(_write_all, fd, data)
            except OSError as exc:
                if frame.get("type") != "response":  # a child that exited mid-request is not news
                    self.error = self.error or f"could not send the {frame.get('type')!r} frame: {exc}"

    def close_write(self) -> None:
        """Close our end towards the child (it sees end of file)."""
        if self._write_fd is not None:
            os.close(self._write_fd)
            self._write_fd = None

    async def finished(self, patience: float) -> None:
        """Wait up to `patience` s for the child to close its end (after it exited)."""
        try:
            await asyncio.wait_for(asyncio.shield(self._task), patience)
        except TimeoutError:
            self.error = self.error or "the reply channel stayed open after the process exited"
            self._task.cancel()

    async def _read_loop(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=self._max_frame_bytes + 4)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(self._read_fd, "rb", buffering=0)
        )
        try:
            while True:
                try:
                    frame = await read_frame_async(reader, max_bytes=self._max_frame_bytes)
                except (FrameError, OSError) as exc:
                    self.error = self.error or f"malformed frame: {exc}"
                    return
                if frame is None:
                    return
                kind = frame["type"]
                if kind == "request" and self.reply is None:
                    await self._answer(frame)
                elif kind in _REPLY_TYPES and self.reply is None:
                    self.reply = frame
                elif self.reply is None:
                    self.error = f"unexpected {kind!r} frame from the child"
                    return
        finally:
            transport.close()

    async def _answer(self, request: dict[str, Any]) -> None:
        response: dict[str, Any] = {"type": "response", "id": request.get("id")}
        try:
            response |= {"ok": True, "value": await self._handler(request)}
        except RequestRefused as exc:
            response |= {"ok": False, "error": str(exc)}
        except Exception as exc:  # the agent's bug must not hang user code waiting for an answer
            log.exception("request %r failed in the agent", request.get("op"))
            response |= {"ok": False, "error": f"AgentError: {type(exc).__name__}: {exc}"}
        self.requests_served += 1
        await self.send(response)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
