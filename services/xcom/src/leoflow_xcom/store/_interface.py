"""The XComStore interface both backends (Redis, Postgres) honour, and the value
types that cross it.

Invariants every implementation keeps (the contract tests hold them):
- every operation is scoped to one tenant; nothing crosses tenants;
- `put` replaces any value under the same id (last write wins) and restarts its TTL;
- an expired value is invisible to `get`, `get_many` and `query` at once, even if
  its bytes are reclaimed later;
- `query` orders by `order_by` and then by the natural key (dag, run, task,
  map_index, key), byte-wise, so pages are stable;
- `delete` is idempotent: deleting what is gone deletes 0.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from leoflow_common.errors import InvalidArgument

from ..keys import XComId


@dataclass(frozen=True, slots=True)
class XComRecord:
    id: XComId
    size_bytes: int
    timestamp: datetime
    # None when the caller did not ask for values.
    value: bytes | None = None


@dataclass(frozen=True, slots=True)
class XComQuery:
    """A filter: None means "any"."""

    tenant_id: str
    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    map_index: int | None = None
    key: str | None = None
    limit: int = 100
    offset: int = 0
    order_by: tuple[str, ...] = ()
    include_values: bool = False


@dataclass(frozen=True, slots=True)
class XComSelector:
    """What to delete within one run: None/empty means "any"."""

    tenant_id: str
    dag_id: str
    run_id: str
    task_ids: frozenset[str] = field(default_factory=frozenset)
    map_index: int | None = None
    key: str | None = None

    def matches(self, xcom_id: XComId) -> bool:
        return (
            (not self.task_ids or xcom_id.task_id in self.task_ids)
            and (self.map_index is None or xcom_id.map_index == self.map_index)
            and (self.key is None or xcom_id.key == self.key)
        )


class XComStore(Protocol):
    async def put(self, xcom_id: XComId, value: bytes) -> XComRecord:
        """Store `value` (already validated) under `xcom_id`; return the stored entry."""

    async def get(self, xcom_id: XComId) -> XComRecord | None:
        """The live value under `xcom_id`, with its bytes, or None."""

    async def get_many(self, ids: Iterable[XComId]) -> dict[XComId, XComRecord]:
        """The live values among `ids` (absent ones are left out), in one round trip
        where the backend allows."""

    async def query(self, query: XComQuery) -> tuple[list[XComRecord], int]:
        """One page of matching entries and the total number of matches."""

    async def delete(self, selector: XComSelector) -> int:
        """Delete matching entries; return how many there were."""

    async def close(self) -> None: ...


# Sortable fields, as Airflow names them in order_by.
ORDER_FIELDS = ("dag_id", "run_id", "task_id", "map_index", "key", "timestamp")
NATURAL_ORDER = ("dag_id", "run_id", "task_id", "map_index", "key")
# Names the REST API uses for the same fields.
ORDER_ALIASES = {"xcom_key": "key", "dag_run_id": "run_id"}


def parse_order_by(order_by: Iterable[str]) -> tuple[tuple[str, bool], ...]:
    """[(field, descending)] for `order_by` ("-field" descends), natural key appended
    as the tie-breaker; InvalidArgument for an unknown field."""
    parsed: list[tuple[str, bool]] = []
    for item in order_by:
        descending = item.startswith("-")
        name = item.lstrip("-").strip()
        name = ORDER_ALIASES.get(name, name)
        if name not in ORDER_FIELDS:
            raise InvalidArgument(
                f"cannot order XComs by {item!r}; use one of {', '.join(ORDER_FIELDS)} (prefix '-' to descend)",
                field="page.order_by",
            )
        if name not in (f for f, _ in parsed):
            parsed.append((name, descending))
    for name in NATURAL_ORDER:
        if name not in (f for f, _ in parsed):
            parsed.append((name, False))
    return tuple(parsed)
