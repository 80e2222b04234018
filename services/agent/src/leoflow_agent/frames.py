"""Length-prefixed JSON frames between the agent and its child runner.

Wire format (both directions, on a dedicated pipe pair, never on stdout/stderr):

    frame   = length payload
    length  = 4 bytes, unsigned big-endian, the payload's size in bytes
    payload = UTF-8 JSON object with a string member "type"

Invariants (fail closed): a reader never guesses. A payload that is not valid UTF-8,
not strict JSON (NaN and Infinity are refused), not an object, or lacks a string
"type" raises FrameError; so does a length above the reader's limit (checked before
anything is read, so a corrupt header cannot make the reader allocate gigabytes) and
a stream that ends inside a frame. Only a stream that ends exactly on a frame
boundary is a clean end of stream (None). Callers treat every FrameError as "the
peer is broken", never as a message.

Messages:
    agent -> child: {"type": "run", ...}                         (one, then EOF)
    child -> agent: {"type": "result", "value": ...}             (exactly one of
                 or {"type": "error", "kind": ..., "exc_type": ...,
                     "message": ..., "traceback": ...}            these two)
"""

from __future__ import annotations

import json
import struct
from typing import Any, BinaryIO

HEADER = struct.Struct(">I")

# Large enough for fan-in argument lists of many 256 KiB XComs, small enough that a
# corrupt header fails at once instead of exhausting memory.
MAX_FRAME_BYTES = 64 * 1024 * 1024


class FrameError(Exception):
    """The peer sent something that is not a valid frame: treat it as broken."""


def encode_frame(message: dict[str, Any], *, max_bytes: int = MAX_FRAME_BYTES) -> bytes:
    """Serialize `message` (a dict with a string "type") into one frame.

    Raises FrameError if the payload would exceed `max_bytes`, and ValueError /
    TypeError if `message` is not strict JSON (the caller encodes user values first).
    """
    if not isinstance(message.get("type"), str):
        raise FrameError("a frame needs a string 'type'")
    payload = json.dumps(message, allow_nan=False, ensure_ascii=False, separators=(",", ":")).encode()
    if len(payload) > max_bytes:
        raise FrameError(f"frame of {len(payload)} bytes exceeds the {max_bytes}-byte limit")
    return HEADER.pack(len(payload)) + payload


def _refuse_constant(name: str) -> Any:
    raise FrameError(f"frame payload contains the non-JSON constant {name}")


def decode_payload(payload: bytes) -> dict[str, Any]:
    """Parse one frame payload; raise FrameError unless it is a typed JSON object."""
    try:
        message = json.loads(payload.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise FrameError(f"frame payload is not UTF-8: {exc}") from None
    except json.JSONDecodeError as exc:
        raise FrameError(f"frame payload is not JSON: {exc}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise FrameError("frame payload is not an object with a string 'type'")
    return message


def parse_length(header: bytes, *, max_bytes: int = MAX_FRAME_BYTES) -> int:
    """The payload length a complete 4-byte header announces, within the limit."""
    (length,) = HEADER.unpack(header)
    if length > max_bytes:
        raise FrameError(f"frame of {length} bytes exceeds the {max_bytes}-byte limit")
    return length


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(stream: BinaryIO, *, max_bytes: int = MAX_FRAME_BYTES) -> dict[str, Any] | None:
    """Blocking read of one frame; None on a clean end of stream."""
    header = _read_exactly(stream, HEADER.size)
    if not header:
        return None
    if len(header) < HEADER.size:
        raise FrameError("stream ended inside a frame header")
    length = parse_length(header, max_bytes=max_bytes)
    payload = _read_exactly(stream, length)
    if len(payload) < length:
        raise FrameError(f"stream ended after {len(payload)} of {length} payload bytes")
    return decode_payload(payload)


async def read_frame_async(reader: Any, *, max_bytes: int = MAX_FRAME_BYTES) -> dict[str, Any] | None:
    """Read one frame from an asyncio.StreamReader; None on a clean end of stream."""
    import asyncio  # the child runner never needs asyncio; keep its import cost off that path

    try:
        header = await reader.readexactly(HEADER.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise FrameError("stream ended inside a frame header") from None
    length = parse_length(header, max_bytes=max_bytes)
    try:
        payload = await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise FrameError(f"stream ended after {len(exc.partial)} of {length} payload bytes") from None
    return decode_payload(payload)
