"""Safe file paths for log files: ids become path components that can never
escape the log directory or collide.

Each id is escaped so the component holds only [a-z0-9._%^-]: other bytes become
%xx (lower-case hex), an upper-case letter becomes "^" plus the letter in lower case (so "ETL" and
"etl" stay apart on case-insensitive file systems), and a leading "." is
escaped (no "..", no hidden files). Escaping is injective; a component too long
for a file name keeps a readable head plus a hash of the whole id.
"""

from __future__ import annotations

import hashlib
import string
from pathlib import Path

from leoflow_common.errors import InvalidArgument

from ..keys import TryId

_KEPT = frozenset(string.ascii_lowercase + string.digits + "-_.")
# File names are limited to 255 bytes on common file systems; leave room for ".ndjson".
MAX_COMPONENT = 200
_HASH_SEPARATOR = "%%"  # cannot come out of escaping: "%" is always followed by hex digits


def path_component(value: str) -> str:
    """The escaped form of one id (see the module docstring)."""
    if not value:
        raise InvalidArgument("a path component cannot be empty")
    parts = []
    for ch in value:
        if ch in _KEPT:
            parts.append(ch)
        elif "A" <= ch <= "Z":
            parts.append("^" + ch.lower())
        else:
            parts.append("".join(f"%{byte:02x}" for byte in ch.encode("utf-8")))
    if parts[0] == ".":
        parts[0] = "%2e"
    escaped = "".join(parts)
    if len(escaped) > MAX_COMPONENT:
        digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:24]
        escaped = (
            escaped[: MAX_COMPONENT - len(digest) - len(_HASH_SEPARATOR)] + _HASH_SEPARATOR + digest
        )
    return escaped


def log_path(root: Path, try_id: TryId) -> Path:
    """<root>/<tenant>/<dag>/<run>/<task>/<map_index>/<try>.ndjson, checked to lie
    inside `root` (which must be absolute and resolved)."""
    components = [
        path_component(try_id.tenant_id),
        path_component(try_id.dag_id),
        path_component(try_id.run_id),
        path_component(try_id.task_id),
        path_component(str(try_id.map_index)),
    ]
    path = root.joinpath(*components, f"{try_id.try_number}.ndjson")
    # Belt and braces: escaping already rules this out, but a log file outside the
    # directory would be a security bug, so check the resolved path too.
    if not path.resolve().is_relative_to(root):
        raise InvalidArgument(f"log path for {try_id.describe()} escapes the log directory")
    return path
