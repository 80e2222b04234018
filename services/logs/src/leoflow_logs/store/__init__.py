"""Where task logs live: one interface, two implementations (disk for Lite; a
Redis stream per try written through to a PostgreSQL archive for the stack),
held to the same contract tests."""

from ._interface import AppendResult, LogChunk, LogStore
from .archive import PostgresLogArchive
from .disk_store import DiskLogStore
from .guarded import GuardedLogStore
from .redis_store import RedisLogStore

__all__ = [
    "AppendResult",
    "DiskLogStore",
    "GuardedLogStore",
    "LogChunk",
    "LogStore",
    "PostgresLogArchive",
    "RedisLogStore",
]
