"""The dashboard's history window derived from range counts equals Airflow's
definition, item by item (pure)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from leoflow_api_gateway.convert.dashboard import STATE_COUNT_CAP, WindowCounts, in_window

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)
# Every (start, end) shape an item can have around a window [S, E]: unset, before,
# inside, after.
TIMES = [None, NOW - 10 * HOUR, NOW - 5 * HOUR, NOW - 2 * HOUR, NOW - HOUR / 2]
ITEMS = [(s, e) for s, e in itertools.product(TIMES, TIMES) if s is None or e is None or s <= e]


def airflow_counts(items, start, end) -> int:
    """Airflow's rule: coalesce(start, now) >= S and coalesce(end, now) <= coalesce(E, now)."""
    limit = end or NOW
    return sum(1 for s, e in items if (s or NOW) >= start and (e or NOW) <= limit)


def range_counts(items, start, end) -> WindowCounts:
    """What the services answer for the range filters the gateway asks."""

    def count(predicate):
        return sum(1 for item in items if predicate(*item))

    before = lambda s, e: s is not None and s <= start - timedelta(microseconds=1)  # noqa: E731
    after = lambda s, e: end is not None and e is not None and e >= end + timedelta(microseconds=1)  # noqa: E731
    ended = lambda s, e: e is not None  # noqa: E731
    return WindowCounts(
        total=len(items),
        started_before=count(before),
        ended_after=count(after),
        started_before_and_ended_after=count(lambda s, e: before(s, e) and after(s, e)),
        ended=count(ended),
        started_before_and_ended=count(lambda s, e: before(s, e) and ended(s, e)),
    )


@pytest.mark.parametrize(
    ("start", "end"),
    [(NOW - 6 * HOUR, None), (NOW - 6 * HOUR, NOW - 3 * HOUR), (NOW - 11 * HOUR, NOW - HOUR), (NOW - 3 * HOUR, NOW + HOUR)],
)
def test_the_derived_count_is_airflows_count(start, end):
    ends_before_now = end is not None and end < NOW
    assert in_window(range_counts(ITEMS, start, end), window_ends_before_now=ends_before_now) == airflow_counts(ITEMS, start, end)


def test_counts_stop_at_airflows_cap():
    assert in_window(WindowCounts(total=5000, started_before=10), window_ends_before_now=False) == STATE_COUNT_CAP
