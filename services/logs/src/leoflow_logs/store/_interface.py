"""The LogStore interface both stores (disk for Lite; Redis stream + PostgreSQL
archive for the stack) honour, and the values that cross it.

Invariants every implementation keeps (the contract tests hold them):
- a try's records are kept in sequence order, each sequence at most once: an
  appended record whose sequence is not above the last stored one is dropped;
- once a log is closed (an append with final) it takes no new records; a resent
  final batch of records already stored is accepted as a no-op;
- `read` returns records strictly after the cursor, in order, at most `limit`;
- `wait` returns as soon as there may be records after the cursor or the log is
  closed (or after `max_wait` seconds), without polling: appends wake waiters.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from leoflow_proto.logs.v1 import logs_pb2

from ..keys import TryId


@dataclass(frozen=True, slots=True)
class AppendResult:
    accepted: int  # records newly stored
    last_sequence: int  # highest sequence stored for the try


@dataclass(frozen=True, slots=True)
class LogChunk:
    records: list[logs_pb2.LogRecord]
    last_sequence: int  # highest sequence stored for the try when read (0: none)
    closed: bool  # the log is final

    def reaches_end(self, cursor: int) -> bool:
        """True when the log is closed and nothing is stored after `cursor`."""
        return self.closed and cursor >= self.last_sequence


class LogStore(Protocol):
    async def append(
        self, try_id: TryId, records: Sequence[logs_pb2.LogRecord], *, final: bool
    ) -> AppendResult:
        """Store the records not stored yet; with `final`, close the log after them.
        FailedPrecondition for new records on a closed log."""

    async def read(self, try_id: TryId, *, after_sequence: int, limit: int) -> LogChunk:
        """Up to `limit` records with a sequence above `after_sequence`."""

    async def wait(self, try_id: TryId, *, after_sequence: int, max_wait: float) -> None:
        """Return once records above `after_sequence` may exist, the log is closed,
        or `max_wait` seconds passed."""

    async def close(self) -> None: ...
