"""Airflow's paging over the services' offset paging.

Offset paging (`limit`, `offset`) answers `total_entries`. Cursor paging (`cursor=`
empty for the first page, then `next_cursor` / `previous_cursor` from the answer)
is what the 3.2.2 UI uses for runs and task instances; the services page by offset,
so a cursor here is an opaque, encoded offset. `limit` is clamped to the maximum
page size, as Airflow clamps to [api] maximum_page_limit.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from leoflow_proto.common.v1 import keys_pb2

from .errors import validation_error


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def _invalid(cursor: str, message: str):
    # Airflow's spec documents 422 (not 400) for its paged reads: a validation error
    # naming the parameter, so clients built from the spec handle it.
    return validation_error(("query", "cursor"), message, input_=cursor)


def _decode(cursor: str) -> int:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        offset = data["offset"]
    except (ValueError, TypeError, KeyError):
        raise _invalid(cursor, "Invalid cursor token") from None
    if not isinstance(offset, int) or offset < 0:
        raise _invalid(cursor, "Invalid cursor token structure")
    return offset


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    offset: int
    order_by: tuple[str, ...]
    cursor_mode: bool

    def request(self) -> keys_pb2.PageRequest:
        # The services read limit 0 as "their default": ask for one row and drop it
        # (take()), so limit=0 still answers total_entries, as Airflow does.
        return keys_pb2.PageRequest(limit=max(self.limit, 1), offset=self.offset, order_by=list(self.order_by))

    def take(self, items: list) -> list:
        return items[: self.limit]

    def answer(self, returned: int, total_entries: int) -> dict[str, int | str | None]:
        """The collection's paging fields for a page of `returned` items out of `total_entries`."""
        if not self.cursor_mode:
            return {"total_entries": total_entries}
        has_next = self.offset + returned < total_entries and returned > 0
        return {
            "next_cursor": _encode(self.offset + returned) if has_next else None,
            "previous_cursor": _encode(max(self.offset - self.limit, 0)) if self.offset > 0 else None,
        }


def page(*, limit: int | None, offset: int, order_by: list[str], cursor: str | None, fallback: int, maximum: int) -> Page:
    size = min(fallback if limit is None else limit, maximum)
    if cursor is not None:
        offset = _decode(cursor) if cursor else 0
    return Page(limit=size, offset=offset, order_by=tuple(order_by), cursor_mode=cursor is not None)
