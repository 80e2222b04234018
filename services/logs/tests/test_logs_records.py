"""Record normalization (pure): bounded, timestamped, never refused for content."""

from __future__ import annotations

import pytest
from leoflow_common.errors import InvalidArgument
from leoflow_logs.records import check_batch_size, fresh_records, normalize
from leoflow_proto.logs.v1 import logs_pb2

LIMIT = 64 * 1024


def test_an_oversize_record_keeps_its_head_and_says_how_much_was_cut():
    event = "é" * 50_000  # 100,000 bytes of UTF-8
    [record], truncated = normalize(
        [logs_pb2.LogRecord(sequence=1, event=event)], max_record_bytes=LIMIT
    )
    assert truncated == 1
    assert record.ByteSize() <= LIMIT
    head, _, marker = record.event.partition(" … [truncated ")
    assert event.startswith(head) and len(head) > 30_000
    cut = int(marker.removesuffix(" bytes]").replace(",", ""))
    assert cut == len(event.encode()) - len(head.encode())


def test_huge_fields_are_dropped_and_counted():
    source = logs_pb2.LogRecord(sequence=1, event="short")
    for n in range(100):
        source.fields[f"f{n}"] = "v" * 1000
    [record], truncated = normalize([source], max_record_bytes=LIMIT)
    assert (
        truncated == 1
        and dict(record.fields) == {"fields_dropped": "100"}
        and record.event == "short"
    )


def test_small_records_pass_unchanged_but_get_a_timestamp_and_a_level():
    source = logs_pb2.LogRecord(sequence=3, event="hello", stream="stdout", level="WARNING")
    [record], truncated = normalize([source], max_record_bytes=LIMIT)
    assert truncated == 0
    assert record.event == "hello" and record.level == "warning" and record.timestamp.seconds > 0
    assert source.level == "WARNING"  # the input is not modified
    [defaulted], _ = normalize([logs_pb2.LogRecord(sequence=1)], max_record_bytes=LIMIT)
    assert defaulted.level == "info"


def test_a_sequence_below_one_is_refused():
    with pytest.raises(InvalidArgument, match=r"records\[1\].sequence must be 1 or more, not 0"):
        normalize(
            [logs_pb2.LogRecord(sequence=1), logs_pb2.LogRecord(sequence=0)], max_record_bytes=LIMIT
        )


def test_batch_size_limit():
    check_batch_size(1000, max_records=1000)
    with pytest.raises(InvalidArgument, match="carries 1,001 records; the limit is 1,000"):
        check_batch_size(1001, max_records=1000)


def test_fresh_records_keep_each_sequence_once_in_order():
    batch = [logs_pb2.LogRecord(sequence=s) for s in (3, 5, 4, 5, 6)]
    assert [r.sequence for r in fresh_records(batch, 3)] == [5, 6]
