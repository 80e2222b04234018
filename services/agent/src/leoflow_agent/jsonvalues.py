"""JSON encoding of the values a task returns (its XComs).

XComs are JSON documents. Airflow users return datetimes, tuples and sets all the
time, so those get a fixed, documented mapping; everything else that JSON cannot
represent fails the task with a clear message instead of being pickled, repr()'d or
silently dropped:

    datetime / date / time  -> ISO 8601 string (datetime.isoformat())
    tuple                   -> list
    set / frozenset         -> sorted list (by repr when the members do not compare)
    dict keys str/int/float/bool/None -> JSON keys as json.dumps makes them
    NaN / Infinity          -> refused (not JSON)
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any


class NotJSONSerializable(TypeError):
    """A return value cannot be stored as an XCom."""


def _sorted_members(members: set | frozenset) -> list:
    try:
        return sorted(members)
    except TypeError:
        # Mixed types do not compare; order by repr so the XCom is still deterministic.
        return sorted(members, key=repr)


def _encode_special(value: Any) -> Any:
    if isinstance(value, dt.date | dt.time):  # datetime is a date
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return _sorted_members(value)
    raise NotJSONSerializable(type(value).__name__)


def to_json(value: Any, *, what: str = "return value") -> str:
    """Compact JSON text of `value`, or NotJSONSerializable naming the offending type.

    `what` names the value in the message ("return value", "XCom 'total'").
    """
    try:
        return json.dumps(value, default=_encode_special, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except NotJSONSerializable as exc:
        inner = str(exc)
        outer = type(value).__name__
        detail = "" if inner == outer else f" (it contains a value of type {inner})"
        raise NotJSONSerializable(f"{what} of type {outer} is not JSON-serializable{detail}") from None
    except ValueError as exc:  # NaN / Infinity, or a reference cycle
        raise NotJSONSerializable(f"{what} of type {type(value).__name__} is not JSON-serializable: {exc}") from None
    except TypeError as exc:  # dict keys JSON cannot name (tuples, objects)
        raise NotJSONSerializable(f"{what} of type {type(value).__name__} is not JSON-serializable: {exc}") from None


def to_plain(value: Any, *, what: str = "return value") -> Any:
    """`value` converted to plain JSON types (dict/list/str/int/float/bool/None)."""
    return json.loads(to_json(value, what=what))
