"""What counts as a secret, and how it is hidden ("***"), as Airflow's secrets masker
decides: a value is sensitive when its name (a variable key, a JSON field of a
connection's extra, a field of an audit record) contains one of Airflow's sensitive
words. Leoflow is stricter in one place: under a sensitive name every scalar is
hidden, numbers included (Airflow leaves a numeric password visible).

Pure functions; the scheduler applies them on every read path and to every audit
record, and the agent applies its own copy of the rule to task logs.
"""

from __future__ import annotations

import json
from typing import Any

MASK = "***"

# Airflow 3.2's DEFAULT_SENSITIVE_FIELDS.
SENSITIVE_FIELDS = frozenset(
    {
        "access_key", "access_token", "api_key", "apikey", "auth_header", "authorization",
        "bearer", "connection_string", "dsn", "passphrase", "passwd", "password",
        "private_key", "proxy", "proxy_password", "proxies", "secret", "service_account",
        "service_key", "token", "keyfile_dict", "webhook_url",
    }
)  # fmt: skip


def should_hide(name: object) -> bool:
    """Whether values under `name` are secret (case-insensitive substring match)."""
    if not isinstance(name, str):
        return False
    lowered = name.strip().lower()
    return any(word in lowered for word in SENSITIVE_FIELDS)


def _hide_all(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _hide_all(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide_all(v) for v in value]
    return value if value is None else MASK


def redact(value: Any, name: str | None = None) -> Any:
    """`value` (plain JSON data) with every value under a sensitive name replaced by "***"."""
    if name is not None and should_hide(name):
        return _hide_all(value)
    if isinstance(value, dict):
        return {k: redact(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def variable_value_for_read(key: str, text: str) -> str:
    """What a variable's value looks like to readers: "***" for a sensitive key;
    inside a JSON object or list, its sensitive fields masked; otherwise unchanged."""
    if should_hide(key):
        return MASK
    try:
        data = json.loads(text)
    except ValueError:
        return text
    if not isinstance(data, (dict, list)):
        return text
    masked = redact(data)
    # Keep the user's own formatting when nothing had to be hidden.
    return text if masked == data else json.dumps(masked)


def variable_secret_values(key: str, text: str) -> list[str]:
    """What to mask in task logs for a variable: its whole value under a sensitive
    key, else the sensitive fields inside its JSON value."""
    if should_hide(key):
        return [text]
    try:
        data = json.loads(text)
    except ValueError:
        return []
    return secret_values(data) if isinstance(data, (dict, list)) else []


def variable_is_sensitive(key: str, text: str) -> bool:
    """Whether reading this variable shows less than its value (the agent then masks
    the whole value in task logs)."""
    return variable_value_for_read(key, text) != text


def mask_extra(extra: str | None) -> str | None:
    """A connection's extra (JSON object text) with its sensitive fields masked."""
    if extra is None:
        return None
    return json.dumps(redact(json.loads(extra)))


def secret_values(value: Any, name: str | None = None) -> list[str]:
    """The scalar values a redaction of `value` hides, as text (to mask in task logs)."""
    if name is not None and should_hide(name):
        return [_text(v) for v in _scalars(value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in secret_values(v, k)]
    if isinstance(value, list):
        return [s for v in value for s in secret_values(v)]
    return []


def _scalars(value: Any):
    if isinstance(value, dict):
        for v in value.values():
            yield from _scalars(v)
    elif isinstance(value, list):
        for v in value:
            yield from _scalars(v)
    elif value is not None:
        yield value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def merge_masked(new: Any, old: Any, name: str | None = None) -> Any:
    """`new` with every "***" that stands where `old` held a hidden value replaced by
    that value: what a client sends back after editing a masked read keeps the
    secrets it never saw (Airflow's secrets_masker.merge)."""
    hidden = name is not None and should_hide(name)
    if hidden and new == MASK and old is not None:
        return old
    if isinstance(new, dict) and isinstance(old, dict):
        if hidden:
            return {k: merge_masked(v, old.get(k), name) for k, v in new.items()}
        return {k: merge_masked(v, old.get(k), k) for k, v in new.items()}
    if isinstance(new, list) and isinstance(old, list) and len(new) == len(old):
        return [merge_masked(n, o, name if hidden else None) for n, o in zip(new, old, strict=True)]
    return new
