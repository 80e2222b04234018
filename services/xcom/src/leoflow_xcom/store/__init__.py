"""Where XCom values live: one interface, two implementations (Redis for the
stack, PostgreSQL for Lite), held to the same contract tests."""

from ._interface import ORDER_FIELDS, XComQuery, XComRecord, XComSelector, XComStore, parse_order_by
from .guarded import GuardedXComStore
from .postgres_store import PostgresXComStore
from .redis_store import RedisXComStore

__all__ = [
    "ORDER_FIELDS",
    "GuardedXComStore",
    "PostgresXComStore",
    "RedisXComStore",
    "XComQuery",
    "XComRecord",
    "XComSelector",
    "XComStore",
    "parse_order_by",
]
