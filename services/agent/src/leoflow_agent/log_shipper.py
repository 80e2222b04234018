"""Ships the task's log records to LogService.AppendLogs while the task runs.

Records get the agent's own sequence numbers (1, 2, 3, ...) when they are emitted,
so the logs service can store a resent record once. Shipping:
- a background task writes records on one open AppendLogs client stream, in batches
  (up to `batch_size` records; a short linger lets a burst share one message);
- the stream is closed and reopened every `rotate_after` records: the response
  confirms them, which bounds what the agent must keep for a resend;
- on a stream failure, every unconfirmed record is resent on a new stream, with
  backoff; nothing the task printed is dropped unless more than `max_buffered`
  records pile up while the logs service is unreachable (then the newest are
  dropped and counted, and the count is logged when the service is back);
- `close()` sends the rest with final=True (followers stop there) and waits, within
  a time limit, for the service's answer.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable

import grpc
from leoflow_proto.common.v1 import keys_pb2
from leoflow_proto.logs.v1 import logs_pb2

log = logging.getLogger("leoflow.agent")

_STREAM_ERRORS = (grpc.RpcError, asyncio.InvalidStateError)


def make_record(sequence: int, stream: str, level: str, event: str, logger: str = "") -> logs_pb2.LogRecord:
    now = time.time_ns()
    record = logs_pb2.LogRecord(level=level, stream=stream, event=event, sequence=sequence, logger=logger)
    record.timestamp.seconds, record.timestamp.nanos = divmod(now, 1_000_000_000)
    return record


class LogShipper:
    """Buffers and streams one try's log records; see the module docstring."""

    def __init__(
        self,
        stub: object,
        key: keys_pb2.TaskInstanceTryKey,
        metadata: tuple[tuple[str, str], ...],
        *,
        batch_size: int = 200,
        linger: float = 0.01,
        rotate_after: int = 20_000,
        max_buffered: int = 200_000,
    ):
        self._stub = stub
        self._key = key
        self._metadata = metadata
        self._batch_size = batch_size
        self._linger = linger
        self._rotate_after = rotate_after
        self._max_buffered = max_buffered
        self._buffer: deque[logs_pb2.LogRecord] = deque()  # emitted, not yet confirmed
        self._written = 0  # how many of the buffer's head went out on the current call
        self._call: grpc.aio.StreamUnaryCall | None = None
        self._sequence = 0
        self._wake = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task | None = None
        self.dropped = 0
        self.confirmed_sequence = 0
        self.closed_cleanly = False
        # Applied to every record's text (task_secrets.SecretMasker.mask once the secrets are known).
        self.redact: Callable[[str], str] = _unchanged

    def emit(self, stream: str, level: str, event: str, *, logger: str = "") -> None:
        """Queue one record (never blocks); it is shipped within a few milliseconds."""
        if len(self._buffer) >= self._max_buffered:
            self.dropped += 1
            return
        self._sequence += 1
        self._buffer.append(make_record(self._sequence, stream, level, self.redact(event), logger))
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="leoflow-log-shipper")

    async def close(self, wait_seconds: float) -> bool:
        """Flush, send final=True and wait for the service; True if it confirmed all."""
        if self.dropped:
            # Over the cap on purpose: this line explains the gap in the log.
            self._sequence += 1
            self._buffer.append(
                make_record(self._sequence, "agent", "warning", f"{self.dropped} log records were dropped while the logs service was unreachable")
            )
        self._closing = True
        self._wake.set()
        if self._task is None:
            return False
        try:
            await asyncio.wait_for(self._task, wait_seconds)
        except TimeoutError:
            log.warning("logs service did not confirm the final batch within %.0fs; %d records unconfirmed", wait_seconds, len(self._buffer))
        except Exception:  # a shipping bug must not keep the agent from reporting the task's state
            log.exception("the log shipper failed")
        if self._call is not None:
            self._call.cancel()
        return self.closed_cleanly

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            await self._wait_for_work()
            final = self._closing
            try:
                await self._ship(final)
            except _STREAM_ERRORS as exc:
                self._abandon_call()
                log.warning("AppendLogs failed (%s); resending %d records", _describe(exc), len(self._buffer))
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            backoff = 0.1
            if final:
                self.closed_cleanly = True
                return

    async def _wait_for_work(self) -> None:
        while not self._closing and self._written >= len(self._buffer):
            self._wake.clear()
            await self._wake.wait()
        if not self._closing and len(self._buffer) - self._written < self._batch_size:
            await asyncio.sleep(self._linger)  # let a burst of lines share one message

    async def _ship(self, final: bool) -> None:
        if self._call is None:
            self._call = self._stub.AppendLogs(metadata=self._metadata)
            self._written = 0
        while True:
            batch = list(itertools.islice(self._buffer, self._written, self._written + self._batch_size))
            last = self._written + len(batch) >= len(self._buffer)
            if not batch and not final:
                break
            request = logs_pb2.AppendLogsRequest(key=self._key, records=batch, final=final and last)
            await self._call.write(request)
            self._written += len(batch)
            # Output can outpace the writes forever; rotate anyway so confirmed
            # records are released and the buffer stays bounded.
            if last or (self._written >= self._rotate_after and not final):
                break
        if final or self._written >= self._rotate_after:
            await self._call.done_writing()
            response = await self._call
            self._confirm(response)

    def _confirm(self, response: logs_pb2.AppendLogsResponse) -> None:
        # A cleanly closed stream means the service stored what was written on it.
        for _ in range(self._written):
            self.confirmed_sequence = self._buffer.popleft().sequence
        self._written = 0
        self._call = None

    def _abandon_call(self) -> None:
        if self._call is not None:
            self._call.cancel()
        self._call = None
        self._written = 0


def _describe(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    return f"{type(exc).__name__}: {exc}"


def _unchanged(text: str) -> str:
    return text
