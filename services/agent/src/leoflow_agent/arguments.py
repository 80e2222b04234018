"""Call arguments of a Python task, from the XCom service's resolved arguments.

ResolveArguments returns every argument as JSON with its name (keyword) or its
position (positional, name empty). Positional arguments are passed by position and
must be exactly 0..n-1; a gap or a duplicate is a broken contract, not something to
guess around. Fan-in lists arrive as real JSON arrays, in declaration order.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any


class ArgumentError(ValueError):
    """The resolved arguments cannot be turned into a call."""


def assemble_call(resolved: Iterable[Any]) -> tuple[list[Any], dict[str, Any]]:
    """(args, kwargs) from leoflow.xcom.v1.ResolvedArgument messages (or look-alikes)."""
    positional: dict[int, Any] = {}
    keywords: dict[str, Any] = {}
    for argument in resolved:
        label = argument.name or f"#{argument.position}"
        try:
            value = json.loads(argument.value_json) if argument.value_json else None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ArgumentError(f"argument {label} is not valid JSON: {exc}") from None
        if argument.name:
            if argument.name in keywords:
                raise ArgumentError(f"keyword argument {argument.name!r} was given twice")
            keywords[argument.name] = value
        else:
            if argument.position in positional:
                raise ArgumentError(f"positional argument {argument.position} was given twice")
            positional[argument.position] = value
    expected = list(range(len(positional)))
    if sorted(positional) != expected:
        raise ArgumentError(f"positional arguments must be numbered 0..{len(positional) - 1}, got {sorted(positional)}")
    return [positional[i] for i in expected], keywords
