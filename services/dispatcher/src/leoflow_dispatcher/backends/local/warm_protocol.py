"""Frames between the local backend and a warm-start template (leoflow_agent.warm_start).

The same wire format as the agent's frames.py (the dispatcher imports no agent
code): a 4-byte big-endian length, then a UTF-8 JSON object with a string "type".
Fail closed: a frame over the limit, a payload that is not such an object, or a
stream that ends inside a frame raises WarmProtocolError; the backend then treats
the template as broken and never guesses at what it meant.

    dispatcher -> template (its stdin)
        {"type": "assign", "id", "assignment": {dispatcher_address, token,
         bundle_dir, stdout, stderr}}  |  {"type": "drain"}
    template -> dispatcher (the events pipe)
        {"type": "standby", "pid"}  |  {"type": "accepted", "id", "pid"}
        {"type": "refused", "id", "reason"}  |  {"type": "exited", "pid", "returncode"}
        {"type": "failing", "reason"}
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any

HEADER = struct.Struct(">I")
# Events are a few hundred bytes; anything near this is not an event.
MAX_EVENT_BYTES = 64 * 1024


class WarmProtocolError(Exception):
    """The template sent something that is not a valid frame."""


def encode(message: dict[str, Any]) -> bytes:
    """One frame holding `message` (a dict with a string "type")."""
    payload = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    return HEADER.pack(len(payload)) + payload


async def read_event(reader: asyncio.StreamReader) -> dict[str, Any] | None:
    """The next event, or None when the template closed the pipe on a frame boundary."""
    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise WarmProtocolError("the events pipe ended inside a frame header") from None
        return None
    (length,) = HEADER.unpack(header)
    if length > MAX_EVENT_BYTES:
        raise WarmProtocolError(f"an event of {length} bytes exceeds {MAX_EVENT_BYTES}")
    try:
        payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise WarmProtocolError("the events pipe ended inside a frame") from None
    try:
        event = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WarmProtocolError(f"an event is not JSON: {exc}") from None
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise WarmProtocolError("an event is not an object with a string 'type'")
    return event
