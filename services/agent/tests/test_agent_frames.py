"""The frame codec between agent and child runner: round trips, and every way a
frame can be broken fails closed with FrameError (never a partial message)."""

from __future__ import annotations

import asyncio
import io
import json
import struct

import pytest
from leoflow_agent.frames import (
    FrameError,
    decode_payload,
    encode_frame,
    read_frame,
    read_frame_async,
)


def _frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


MESSAGE = {"type": "result", "value": {"text": "héllo ✓", "n": [1, 2.5, None, True]}}


def test_round_trip_blocking_reads_frames_in_order():
    stream = io.BytesIO(encode_frame(MESSAGE) + encode_frame({"type": "error", "kind": "skip"}))
    assert read_frame(stream) == MESSAGE
    assert read_frame(stream) == {"type": "error", "kind": "skip"}
    assert read_frame(stream) is None  # clean end exactly on a boundary


async def test_round_trip_async():
    reader = _reader(encode_frame(MESSAGE))
    assert await read_frame_async(reader) == MESSAGE
    assert await read_frame_async(reader) is None


def test_header_is_four_byte_big_endian_length():
    frame = encode_frame({"type": "run"})
    assert frame[:4] == len(frame[4:]).to_bytes(4, "big")
    assert json.loads(frame[4:]) == {"type": "run"}


@pytest.mark.parametrize(
    "payload, fragment",
    [
        (b"not json", "not JSON"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"[1, 2]", "object with a string 'type'"),
        (b'{"value": 1}', "object with a string 'type'"),
        (b'{"type": 7}', "object with a string 'type'"),
        (b'{"type": "result", "value": NaN}', "NaN"),
        (b'{"type": "result", "value": Infinity}', "Infinity"),
    ],
)
def test_malformed_payload_is_refused(payload, fragment):
    with pytest.raises(FrameError, match=fragment):
        read_frame(io.BytesIO(_frame(payload)))
    with pytest.raises(FrameError, match=fragment):
        decode_payload(payload)


def test_oversized_frame_is_refused_before_reading_the_payload():
    header_only = struct.pack(">I", 10_000)  # no payload follows: the limit must be checked first
    with pytest.raises(FrameError, match="exceeds the 100-byte limit"):
        read_frame(io.BytesIO(header_only), max_bytes=100)


async def test_oversized_frame_is_refused_async():
    with pytest.raises(FrameError, match="exceeds"):
        await read_frame_async(_reader(struct.pack(">I", 2**31)), max_bytes=1024)


def test_encoder_refuses_oversized_and_untyped_messages():
    with pytest.raises(FrameError, match="exceeds"):
        encode_frame({"type": "result", "value": "x" * 200}, max_bytes=100)
    with pytest.raises(FrameError, match="type"):
        encode_frame({"value": 1})
    with pytest.raises(ValueError):
        encode_frame({"type": "result", "value": float("nan")})


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"\x00\x00", "inside a frame header"),
        (_frame(b'{"type": "result"}')[:-3], "payload bytes"),
    ],
)
def test_truncated_stream_is_an_error_not_an_end(data, fragment):
    with pytest.raises(FrameError, match=fragment):
        read_frame(io.BytesIO(data))


@pytest.mark.parametrize("data", [b"\x00\x00", _frame(b'{"type": "result"}')[:-3]])
async def test_truncated_stream_async(data):
    with pytest.raises(FrameError):
        await read_frame_async(_reader(data))
