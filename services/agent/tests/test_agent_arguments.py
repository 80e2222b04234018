"""Call arguments from ResolveArguments: positional by position, keyword by name,
fan-in lists as real lists; broken numbering is refused, not guessed."""

from __future__ import annotations

import json

import pytest
from leoflow_agent.arguments import ArgumentError, assemble_call
from leoflow_proto.xcom.v1 import xcom_pb2


def _arg(value, name="", position=0):
    return xcom_pb2.ResolvedArgument(name=name, position=position, value_json=json.dumps(value).encode())


def test_positional_by_position_keywords_by_name():
    resolved = [_arg("second", position=1), _arg({"k": 1}, name="options"), _arg("first", position=0), _arg([3, None, 1], name="parts")]
    args, kwargs = assemble_call(resolved)
    assert args == ["first", "second"]
    assert kwargs == {"options": {"k": 1}, "parts": [3, None, 1]}


def test_empty_value_is_none_and_nothing_is_nothing():
    assert assemble_call([xcom_pb2.ResolvedArgument(name="x")]) == ([], {"x": None})
    assert assemble_call([]) == ([], {})


@pytest.mark.parametrize(
    "resolved, fragment",
    [
        ([_arg(1, position=0), _arg(2, position=2)], "numbered 0..1"),
        ([_arg(1, position=0), _arg(2, position=0)], "positional argument 0 was given twice"),
        ([_arg(1, name="x"), _arg(2, name="x")], "'x' was given twice"),
        ([xcom_pb2.ResolvedArgument(name="x", value_json=b"{nope")], "argument x is not valid JSON"),
    ],
)
def test_broken_arguments_are_refused(resolved, fragment):
    with pytest.raises(ArgumentError, match=fragment):
        assemble_call(resolved)
