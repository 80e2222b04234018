"""ChildProcess: output pumped line by line, the reply channel failing closed, and
the process group stopped as one."""

from __future__ import annotations

import asyncio
import struct
import sys
import textwrap

import pytest
from leoflow_agent.child_process import ChildProcess, pump_lines
from leoflow_agent.outcome import FAILED, python_outcome


def _reader(*chunks: bytes, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    for chunk in chunks:
        reader.feed_data(chunk)
    if eof:
        reader.feed_eof()
    return reader


async def test_pump_splits_lines_and_keeps_the_unterminated_tail():
    lines: list = []
    await pump_lines(_reader(b"one\ntw", b"o\r\nthree"), "stdout", lambda *a: lines.append(a))
    assert lines == [("stdout", "one", True), ("stdout", "two", True), ("stdout", "three", True)]


async def test_pump_ships_a_partial_line_while_waiting_for_more():
    lines: list = []
    reader = _reader(b"prompt> ", eof=False)
    pump = asyncio.create_task(pump_lines(reader, "stdout", lambda *a: lines.append(a)))
    for _ in range(500):  # poll: the partial line must show up without a newline or EOF
        if lines:
            break
        await asyncio.sleep(0.01)
    assert lines == [("stdout", "prompt> ", False)]
    reader.feed_data(b"answer\n")
    reader.feed_eof()
    await pump
    assert lines[-1] == ("stdout", "answer", True)


async def test_pump_cuts_very_long_lines_and_survives_bad_utf8():
    lines: list = []
    await pump_lines(_reader(b"x" * 70_000 + b"\n\xff\xfe\n"), "stderr", lambda *a: lines.append(a))
    assert [len(text) for _, text, _ in lines[:2]] == [65_536, 70_000 - 65_536]
    assert lines[2][1] == "\\xff\\xfe"


# A child that answers on the control channel with whatever bytes it is given.
REPLY_SCRIPT = textwrap.dedent("""
    import os, sys
    out = int(sys.argv[sys.argv.index("--control-out") + 1])
    os.write(out, bytes.fromhex(sys.argv[1]))
""")


async def _run_replying(raw: bytes, **start_options):
    lines: list = []
    child = await ChildProcess.start(
        [sys.executable, "-c", REPLY_SCRIPT, raw.hex()], cwd=".", env={}, on_line=lambda *a: lines.append(a), control=True, **start_options
    )
    await child.send({"type": "run"})
    return await child.wait()


async def test_a_well_formed_reply_is_read():
    payload = b'{"type": "result", "value": [1, 2]}'
    child_exit = await _run_replying(struct.pack(">I", len(payload)) + payload)
    assert (child_exit.returncode, child_exit.reply, child_exit.channel_error) == (0, {"type": "result", "value": [1, 2]}, None)


@pytest.mark.parametrize(
    "raw, fragment, options",
    [
        (struct.pack(">I", 8) + b"not json", "not JSON", {}),
        (struct.pack(">I", 50) + b'{"type": "res', "stream ended after 13 of 50 payload bytes", {}),
        (b"\x00\x00", "inside a frame header", {}),
        (struct.pack(">I", 5000) + b"{}", "exceeds the 1000-byte limit", {"max_frame_bytes": 1000}),
    ],
)
async def test_a_broken_reply_fails_closed(raw, fragment, options):
    child_exit = await _run_replying(raw, **options)
    assert child_exit.reply is None and fragment in child_exit.channel_error
    outcome = python_outcome(child_exit.reply, child_exit.returncode, child_exit.channel_error)
    assert outcome.state == FAILED and fragment in outcome.error_message


async def test_no_reply_at_all_is_a_failure_with_the_exit_code():
    child = await ChildProcess.start([sys.executable, "-c", "import sys; sys.exit(9)"], cwd=".", env={}, on_line=lambda *a: None, control=True)
    await child.send({"type": "run"})
    child_exit = await child.wait()
    outcome = python_outcome(child_exit.reply, child_exit.returncode, child_exit.channel_error)
    assert child_exit.returncode == 9 and outcome.state == FAILED
    assert "exited with code 9 without reporting a result" in outcome.error_message


async def test_stop_escalates_to_sigkill_for_a_child_that_ignores_sigterm():
    lines: list = []
    script = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); print('ready', flush=True); time.sleep(300)"
    child = await ChildProcess.start([sys.executable, "-c", script], cwd=".", env={}, on_line=lambda *a: lines.append(a))
    for _ in range(2000):
        if lines:
            break
        await asyncio.sleep(0.01)
    await child.stop(grace=0.2)
    child_exit = await child.wait()
    assert child_exit.returncode == -9
