"""When a failed try is retried: Airflow's TaskInstance.next_retry_datetime.

Airflow 3 (try_number is the number of the try that just failed, from 1):

- no exponential backoff: end_date + retry_delay;
- exponential backoff: min_backoff = ceil(retry_delay_seconds * 2 ** (try_number - 1)),
  at least 1; a deterministic jitter from the SHA-1 of
  "dag_id#task_id#logical_date#try_number" gives
  min_backoff + hash % min_backoff seconds (so between 1x and 2x min_backoff),
  capped at MAX_RETRY_DELAY (24 h, Airflow's [core] max_task_retry_delay) and then
  at the task's max_retry_delay when it has one.

Airflow formats logical_date with str() of an aware datetime ("None" for runs
without one); we do the same so the jitter is the one Airflow would pick.
"""

from __future__ import annotations

import hashlib
import math
from datetime import datetime, timedelta

# Airflow's default retry_delay (when a task sets none) and [core] max_task_retry_delay.
DEFAULT_RETRY_DELAY = timedelta(seconds=300)
MAX_RETRY_DELAY_SECONDS = 24 * 60 * 60


def retry_delay(
    *,
    try_number: int,
    delay: timedelta,
    exponential_backoff: bool,
    max_retry_delay: timedelta | None,
    dag_id: str,
    task_id: str,
    logical_date: datetime | None,
) -> timedelta:
    """How long after the failed try's end the next try may start."""
    if not exponential_backoff:
        return delay
    min_backoff = math.ceil(delay.total_seconds() * (2 ** (try_number - 1)))
    min_backoff = max(min_backoff, 1)
    digest = hashlib.sha1(
        f"{dag_id}#{task_id}#{logical_date}#{try_number}".encode(), usedforsecurity=False
    ).hexdigest()
    jittered = min_backoff + int(digest, 16) % min_backoff
    result = timedelta(seconds=min(jittered, MAX_RETRY_DELAY_SECONDS))
    if max_retry_delay:
        result = min(max_retry_delay, result)
    return result


def next_retry_at(end_date: datetime, **kwargs) -> datetime:
    """end_date + retry_delay(**kwargs): when the next try becomes due."""
    return end_date + retry_delay(**kwargs)
