"""Rendered template fields as they are reported (ReportState.rendered_fields).

Airflow's rules (task_runner._serialize_template_field): a JSON value is kept,
with tuples as lists and dicts sorted by key so the same render always looks the
same; anything else becomes its str(); a value whose text is longer than
[core]max_templated_field_length (4096 by default) is replaced by Airflow's
"Truncated. ..." string. The REST API's rendered_fields and the UI's "Rendered
Templates" tab show exactly these values.
"""

from __future__ import annotations

import json
from typing import Any

MAX_TEMPLATED_FIELD_LENGTH = 4096


def _is_json(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def _normalized(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_normalized(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _normalized(v) for k, v in sorted(value.items(), key=lambda item: str(item[0]))}
    return value


def _truncated(text: str, limit: int) -> str:
    return f"Truncated. You can change this behaviour in [core]max_templated_field_length. {text[: limit - 79]!r}... "


def serialize_field(value: Any, *, limit: int = MAX_TEMPLATED_FIELD_LENGTH) -> Any:
    """One rendered field as a JSON value for the report."""
    normalized = _normalized(value)
    if not _is_json(normalized):
        text = str(value)
        return _truncated(text, limit) if len(text) > limit else text
    if not normalized:
        return normalized
    if len(str(normalized)) > limit:
        return _truncated(str(normalized), limit)
    return normalized


def serialize_fields(owner: Any, names: Any) -> dict[str, Any]:
    """{name: serialized value} of `owner`'s template fields."""
    return {name: serialize_field(getattr(owner, name, None)) for name in names}
