"""What an XCom value may be: one JSON document (RFC 8259, UTF-8) of at most the
configured number of bytes. Values are kept verbatim as pushed; the cap is on
those bytes. Checks run before anything is stored, so a rejected value leaves
no trace."""

from __future__ import annotations

import json

from leoflow_common.errors import InvalidArgument


def describe_bytes(size: int) -> str:
    """ "262,144 bytes (256 KiB)" style, the KiB part only when it is exact."""
    text = f"{size:,} bytes"
    if size >= 1024 and size % 1024 == 0:
        text += f" ({size // 1024:,} KiB)"
    return text


def too_large_message(xcom_key: str, task_id: str, size: int, limit: int) -> str:
    return f"XCom {xcom_key!r} of task {task_id!r} is {size:,} bytes; the limit is {describe_bytes(limit)}"


def check_size(value_json: bytes, *, xcom_key: str, task_id: str, limit: int) -> None:
    """InvalidArgument when `value_json` is over `limit` bytes."""
    if len(value_json) > limit:
        raise InvalidArgument(
            too_large_message(xcom_key, task_id, len(value_json), limit), field="value_json"
        )


def _reject_constant(name: str):
    # Python's json accepts NaN/Infinity; JSON does not, and other clients choke on them.
    raise ValueError(f"{name} is not valid JSON")


def check_json(value_json: bytes, *, xcom_key: str, task_id: str) -> None:
    """InvalidArgument unless `value_json` is exactly one JSON document in UTF-8."""
    where = f"XCom {xcom_key!r} of task {task_id!r}"
    if not value_json.strip():
        raise InvalidArgument(f"{where} is empty; a JSON document is required", field="value_json")
    try:
        text = value_json.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidArgument(
            f"{where} is not UTF-8 text: {exc.reason} at byte {exc.start}", field="value_json"
        ) from exc
    try:
        json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise InvalidArgument(
            f"{where} is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
            field="value_json",
        ) from exc
    except (ValueError, RecursionError) as exc:
        raise InvalidArgument(f"{where} is not valid JSON: {exc}", field="value_json") from exc


def check_value(value_json: bytes, *, xcom_key: str, task_id: str, limit: int) -> bytes:
    """`value_json` if it may be stored; the size check comes first so an oversize
    value is never parsed."""
    check_size(value_json, xcom_key=xcom_key, task_id=task_id, limit=limit)
    check_json(value_json, xcom_key=xcom_key, task_id=task_id)
    return value_json
