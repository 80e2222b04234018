"""Airflow's TaskInstance.next_retry_datetime (Airflow 3, try_number counts from 1):

- without exponential backoff the delay is retry_delay;
- with it, min_backoff = ceil(retry_delay * 2**(try_number - 1)) (at least 1 s),
  plus a SHA-1 jitter of "dag_id#task_id#logical_date#try_number" modulo
  min_backoff, so the delay is in [min_backoff, 2 * min_backoff); capped at 24 h
  ([core] max_task_retry_delay) and then at max_retry_delay.
"""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from leoflow_scheduler.scheduling.retry_delay import (
    MAX_RETRY_DELAY_SECONDS,
    next_retry_at,
    retry_delay,
)

END = datetime(2024, 1, 1, tzinfo=UTC)
LOGICAL = datetime(2024, 1, 1, tzinfo=UTC)


def delay(try_number, seconds, *, backoff=True, cap=None, logical=LOGICAL):
    return retry_delay(
        try_number=try_number,
        delay=timedelta(seconds=seconds),
        exponential_backoff=backoff,
        max_retry_delay=cap,
        dag_id="dag",
        task_id="task",
        logical_date=logical,
    )


@pytest.mark.parametrize(("try_number", "seconds"), [(1, 300), (2, 300), (5, 0), (3, 10)])
def test_without_backoff_the_delay_is_retry_delay(try_number, seconds):
    assert delay(try_number, seconds, backoff=False) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("try_number", "seconds", "min_backoff"),
    [(1, 10, 10), (2, 10, 20), (3, 10, 40), (4, 10, 80), (1, 0.4, 1), (1, 0, 1), (2, 1.5, 3)],
)
def test_exponential_backoff_is_between_one_and_two_min_backoffs(try_number, seconds, min_backoff):
    result = delay(try_number, seconds).total_seconds()
    assert min_backoff <= result < 2 * min_backoff
    # The jitter is Airflow's: deterministic per (dag, task, logical date, try).
    digest = int(hashlib.sha1(f"dag#task#{LOGICAL}#{try_number}".encode()).hexdigest(), 16)
    assert result == min_backoff + digest % min_backoff


def test_the_jitter_uses_airflows_string_of_the_logical_date():
    # str(aware datetime), and "None" for Airflow 3 runs without a logical date.
    digest = int(hashlib.sha1(b"dag#task#None#2").hexdigest(), 16)
    assert delay(2, 10, logical=None).total_seconds() == 20 + digest % 20
    assert str(LOGICAL) == "2024-01-01 00:00:00+00:00"


def test_caps():
    assert delay(3, 100, cap=timedelta(seconds=150)) == timedelta(seconds=150)
    assert delay(60, 1) == timedelta(seconds=MAX_RETRY_DELAY_SECONDS)
    assert delay(1, 10, cap=timedelta(hours=1)) == delay(1, 10)


def test_next_retry_at_counts_from_the_end_of_the_failed_try():
    assert next_retry_at(
        END, try_number=1, delay=timedelta(minutes=5), exponential_backoff=False, max_retry_delay=None,
        dag_id="d", task_id="t", logical_date=None,
    ) == END + timedelta(minutes=5)  # fmt: skip
