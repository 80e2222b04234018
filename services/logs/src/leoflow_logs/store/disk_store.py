"""Task logs on disk (Lite): one NDJSON file per try,
<directory>/<tenant>/<dag>/<run>/<task>/<map_index>/<try>.ndjson (see paths.py).

One process owns the directory. It keeps, per try it has touched, the last
sequence, whether the log is closed, how many bytes of complete lines the file
holds, and a sparse index (every CHECKPOINT_EVERY records) so a continuation
read seeks near its cursor instead of scanning from the start. Followers wait on
an asyncio.Condition that every append notifies: no polling. File I/O runs in
worker threads so a big read never stalls the event loop. The file is the truth:
state evicted from the cache (or lost in a restart) is rebuilt by one scan.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from leoflow_common.errors import FailedPrecondition
from leoflow_proto.logs.v1 import logs_pb2

from ..keys import TryId
from ..records import fresh_records
from ._interface import AppendResult, LogChunk
from .ndjson import end_line, parse_line, record_line
from .paths import log_path

CHECKPOINT_EVERY = 1000


@dataclass
class _FileState:
    """What one scan of a log file found."""

    last_sequence: int = 0
    closed: bool = False
    size: int = 0  # bytes of complete lines; readers stop here
    needs_newline: bool = False  # the file ends in a line cut short by a crash
    # (last sequence before offset, offset), ascending; (0, 0) is always first.
    checkpoints: list[tuple[int, int]] = field(default_factory=lambda: [(0, 0)])
    records_since_checkpoint: int = 0


@dataclass
class _TryLog:
    path: Path
    state: _FileState
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    users: int = 0


def _scan(path: Path) -> _FileState:
    state = _FileState()
    if not path.exists():
        return state
    offset = 0
    with path.open("rb") as file:
        for line in file:
            if not line.endswith(b"\n"):
                state.needs_newline = True
                break
            _note_line(state, parse_line(line), offset)
            offset += len(line)
    state.size = offset
    return state


def _note_line(state: _FileState, parsed, offset: int) -> None:
    if isinstance(parsed, logs_pb2.LogRecord):
        if state.records_since_checkpoint >= CHECKPOINT_EVERY:
            state.checkpoints.append((state.last_sequence, offset))
            state.records_since_checkpoint = 0
        state.last_sequence = max(state.last_sequence, parsed.sequence)
        state.records_since_checkpoint += 1
    elif isinstance(parsed, int):
        state.closed = True


def _write(path: Path, lines: list[bytes], needs_newline: bool) -> int:
    """Append `lines`; return the offset of the first one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab") as file:
        if needs_newline:
            file.write(b"\n")  # seal the torn line so it stays one unparsable line
        start = file.tell()
        file.write(b"".join(lines))
    return start


def _read(
    path: Path, start: int, end: int, after_sequence: int, limit: int
) -> list[logs_pb2.LogRecord]:
    records: list[logs_pb2.LogRecord] = []
    if end <= start or not path.exists():
        return records
    with path.open("rb") as file:
        file.seek(start)
        offset = start
        while offset < end and len(records) < limit:
            line = file.readline()
            if not line:
                break
            offset += len(line)
            parsed = parse_line(line)
            if isinstance(parsed, logs_pb2.LogRecord) and parsed.sequence > after_sequence:
                records.append(parsed)
    return records


class DiskLogStore:
    def __init__(self, directory: Path | str, *, max_cached_tries: int = 1024):
        self._root = Path(directory).expanduser().resolve()
        self._root.mkdir(parents=True, exist_ok=True)
        self._max_cached = max_cached_tries
        self._logs: OrderedDict[TryId, _TryLog] = OrderedDict()
        self._loading = asyncio.Lock()

    @property
    def directory(self) -> Path:
        return self._root

    @contextlib.asynccontextmanager
    async def _use(self, try_id: TryId) -> AsyncIterator[_TryLog]:
        log = self._logs.get(try_id)
        if log is None:
            path = log_path(self._root, try_id)
            async with self._loading:  # one scan per try, even under concurrent first use
                log = self._logs.get(try_id)
                if log is None:
                    log = _TryLog(path, await asyncio.to_thread(_scan, path))
                    self._logs[try_id] = log
        self._logs.move_to_end(try_id)
        log.users += 1
        try:
            yield log
        finally:
            log.users -= 1
            self._evict_idle()

    def _evict_idle(self) -> None:
        if len(self._logs) <= self._max_cached:
            return
        for try_id in [t for t, log in self._logs.items() if log.users == 0]:
            del self._logs[try_id]
            if len(self._logs) <= self._max_cached:
                return

    async def append(
        self, try_id: TryId, records: Sequence[logs_pb2.LogRecord], *, final: bool
    ) -> AppendResult:
        async with self._use(try_id) as log, log.changed:
            state = log.state
            fresh = fresh_records(records, state.last_sequence)
            if state.closed:
                if fresh:
                    raise FailedPrecondition(
                        f"the log of {try_id.describe()} is closed; it takes no new records"
                    )
                return AppendResult(0, state.last_sequence)
            new_last = fresh[-1].sequence if fresh else state.last_sequence
            lines = [record_line(r) for r in fresh]
            if final:
                lines.append(end_line(new_last))
            if not lines:
                return AppendResult(0, state.last_sequence)
            offset = await asyncio.to_thread(_write, log.path, lines, state.needs_newline)
            state.needs_newline = False
            for record, line in zip(fresh, lines, strict=False):
                _note_line(state, record, offset)
                offset += len(line)
            state.closed = state.closed or final
            state.size = offset + (len(lines[-1]) if final else 0)
            log.changed.notify_all()
            return AppendResult(len(fresh), state.last_sequence)

    async def read(self, try_id: TryId, *, after_sequence: int, limit: int) -> LogChunk:
        async with self._use(try_id) as log:
            state = log.state
            # Taken together, without awaiting: the records below `size` are exactly
            # those up to `last_sequence`, and `closed` is true of that content.
            last, closed, end = state.last_sequence, state.closed, state.size
            index = bisect.bisect_right(state.checkpoints, (after_sequence, float("inf"))) - 1
            start = state.checkpoints[max(index, 0)][1]
            records = await asyncio.to_thread(_read, log.path, start, end, after_sequence, limit)
            return LogChunk(records, last, closed)

    async def wait(self, try_id: TryId, *, after_sequence: int, max_wait: float) -> None:
        async with self._use(try_id) as log, log.changed:
            state = log.state
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    log.changed.wait_for(
                        lambda: state.last_sequence > after_sequence or state.closed
                    ),
                    max_wait,
                )

    async def close(self) -> None:
        self._logs.clear()
