"""What an XCom value may be: JSON, UTF-8, at most the cap."""

from __future__ import annotations

import pytest
from leoflow_common.errors import InvalidArgument
from leoflow_xcom.values import check_value, describe_bytes

LIMIT = 262_144


def test_the_size_rejection_names_key_task_size_and_limit():
    value = b'"' + b"x" * 300_121 + b'"'
    with pytest.raises(InvalidArgument) as err:
        check_value(value, xcom_key="return_value", task_id="x", limit=LIMIT)
    assert (
        err.value.message
        == "XCom 'return_value' of task 'x' is 300,123 bytes; the limit is 262,144 bytes (256 KiB)"
    )
    assert err.value.field == "value_json"


def test_a_value_of_exactly_the_limit_is_accepted():
    value = b'"' + b"x" * (LIMIT - 2) + b'"'
    assert check_value(value, xcom_key="k", task_id="t", limit=LIMIT) == value


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        (b"", "is empty"),
        (b"   ", "is empty"),
        (b"{'a': 1}", "is not valid JSON"),
        (b"[1, 2", "is not valid JSON"),
        (b"1 2", "is not valid JSON"),
        (b"NaN", "NaN is not valid JSON"),
        (b"[Infinity]", "Infinity is not valid JSON"),
        (b'"\xff"', "is not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "is not valid JSON"),
    ],
)
def test_anything_but_one_json_document_is_rejected(value, complaint):
    with pytest.raises(InvalidArgument, match=complaint):
        check_value(value, xcom_key="k", task_id="t", limit=LIMIT)


@pytest.mark.parametrize(
    "value", [b"null", b"0", b"-1.5e3", b'"text"', b"[]", b'{"a": [true, false, null]}', b"  {}\n"]
)
def test_json_documents_of_any_type_are_accepted(value):
    assert check_value(value, xcom_key="k", task_id="t", limit=LIMIT) == value


def test_describe_bytes_adds_kib_only_when_exact():
    assert describe_bytes(262_144) == "262,144 bytes (256 KiB)"
    assert describe_bytes(1000) == "1,000 bytes"
