"""JSON encoding of task return values (XComs): the documented mappings, and a
clear failure for anything JSON cannot carry."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from leoflow_agent.jsonvalues import NotJSONSerializable, to_json, to_plain


@pytest.mark.parametrize(
    "value, expected",
    [
        ({"a": 1, "b": [True, None, 2.5]}, {"a": 1, "b": [True, None, 2.5]}),
        (dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC), "2024-01-02T03:04:05+00:00"),
        (dt.datetime(2024, 1, 2, 3, 4, 5), "2024-01-02T03:04:05"),
        (dt.date(2024, 1, 2), "2024-01-02"),
        (dt.time(3, 4), "03:04:00"),
        ((1, (2, 3)), [1, [2, 3]]),
        ({3, 1, 2}, [1, 2, 3]),
        (frozenset({"b", "a"}), ["a", "b"]),
        ({"when": [dt.date(2024, 5, 6)], "ids": {2, 1}}, {"when": ["2024-05-06"], "ids": [1, 2]}),
        ({1: "int keys become strings"}, {"1": "int keys become strings"}),
        ("ünïcode", "ünïcode"),
    ],
)
def test_encodes_airflow_return_values(value, expected):
    assert to_plain(value) == expected
    assert json.loads(to_json(value)) == expected


def test_mixed_type_set_is_still_deterministic():
    assert to_plain({1, "a"}) == to_plain({"a", 1})


class Custom:
    pass


@pytest.mark.parametrize(
    "value, message",
    [
        (Custom(), "return value of type Custom is not JSON-serializable"),
        ({"nested": [Custom()]}, "return value of type dict is not JSON-serializable (it contains a value of type Custom)"),
        (b"bytes", "return value of type bytes is not JSON-serializable"),
        (float("nan"), "return value of type float is not JSON-serializable"),
        ({(1, 2): "tuple key"}, "return value of type dict is not JSON-serializable"),
    ],
)
def test_refuses_what_json_cannot_carry(value, message):
    with pytest.raises(NotJSONSerializable) as caught:
        to_json(value)
    assert str(caught.value).startswith(message)


def test_names_the_value_in_the_message():
    with pytest.raises(NotJSONSerializable, match="XCom 'total' of type Custom"):
        to_json(Custom(), what="XCom 'total'")
