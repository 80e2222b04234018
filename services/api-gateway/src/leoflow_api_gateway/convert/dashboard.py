"""The dashboard's history window, in counts the services can answer.

Airflow counts a run (or task instance) in the window [S, E] (E: now when not
given) when coalesce(start_date, now) >= S and coalesce(end_date, now) <= E. The
services count by closed date ranges only, so the window's count is derived by
inclusion-exclusion from counts they can give:

    T   every item in the state
    A   started before S                      (start_date <= S - 1µs)
    B   ended after E                         (end_date >= E + 1µs)
    AB  both                                  (both ranges at once)
    D   ended at all                          (end_date >= the epoch)
    AD  started before S and ended at all

Items not ended count as ending now: excluded only when E is before now. So the
window holds T - |A ∪ B ∪ N| with N = not ended (when E < now), where
|A ∪ B ∪ N| = A + B + N - AB - |A ∩ N|, N = T - D, |A ∩ N| = A - AD (B ∩ N = ∅).
"""

from __future__ import annotations

from dataclasses import dataclass

# As Airflow: each state's count stops at this many (the UI shows "1000+").
STATE_COUNT_CAP = 1000


@dataclass(frozen=True, slots=True)
class WindowCounts:
    total: int
    started_before: int
    # Only needed when the window ends before now.
    ended_after: int = 0
    started_before_and_ended_after: int = 0
    ended: int = 0
    started_before_and_ended: int = 0


def in_window(counts: WindowCounts, *, window_ends_before_now: bool) -> int:
    if not window_ends_before_now:
        count = counts.total - counts.started_before
    else:
        not_ended = counts.total - counts.ended
        started_before_not_ended = counts.started_before - counts.started_before_and_ended
        excluded = (
            counts.started_before
            + counts.ended_after
            + not_ended
            - counts.started_before_and_ended_after
            - started_before_not_ended
        )
        count = counts.total - excluded
    return min(max(count, 0), STATE_COUNT_CAP)
