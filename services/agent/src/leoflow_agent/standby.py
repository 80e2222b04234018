"""A standby agent: forked by the warm-start template (warm_start.py), it waits,
warm, for exactly one assignment and then runs it as a cold agent would.

Life of a standby:
1. (just forked, one thread) a session of its own, stdin on /dev/null, nothing of
   the template's kept but its two pipes; fork its runner (forked_runner.py);
2. start the event loop, connect to the control plane ahead (warm_addresses) and
   tell the template "ready";
3. read one assignment frame; a malformed one is refused and the standby exits
   with 2 (fail closed: it never guesses); end of file (the template drains or
   died) ends it with 0, having run nothing;
4. tell the template "accepted" *before* anything else, so the dispatcher knows at
   once which process runs the try; send its own stdout and stderr to the
   execution's files; run the assignment (run.run_assignment); exit with its code.

A standby never takes a second assignment: one OS process per task try.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from google.protobuf.message import DecodeError
from leoflow_proto.dag.v1 import execution_pb2
from leoflow_proto.dispatcher.v1 import agent_pb2

from . import forked_runner, spine_trace
from .assignment import AgentOptions, Assignment, ConfigurationError
from .control_plane import open_channel
from .frames import FrameError, encode_frame, read_frame_async
from .run import EXIT_CONFIGURATION, EXIT_REPORTED, run_assignment

log = logging.getLogger("leoflow.agent")

# An assignment frame holds addresses, a token, paths and, when the dispatcher hands
# it over, the TaskExecution (at most 1 MiB, base64); anything bigger is not one.
MAX_ASSIGNMENT_BYTES = 2 * 1024 * 1024
CONNECT_AHEAD_TIMEOUT = 5.0


@dataclass(frozen=True, slots=True)
class StandbyConfig:
    """What every standby of one template shares."""

    bundle_dir: Path
    # The DAG file whose imports the runner loads ahead ("" for none).
    dag_file: str
    preimport: bool
    base_env: Mapping[str, str]
    options: dict[str, float]
    # Control-plane addresses (dispatcher, xcom, logs) to connect to ahead: gRPC
    # shares a connection among channels to one address with the same options, so
    # the assignment's channels find theirs already up.
    warm_addresses: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class HandedAssignment:
    """An assignment as the dispatcher handed it over."""

    id: str
    assignment: Assignment
    stdout_path: Path
    stderr_path: Path


def parse_assignment(message: dict[str, Any] | None, bundle_dir: Path) -> HandedAssignment:
    """The HandedAssignment a frame carries; ConfigurationError unless it is exactly one."""
    if message is None or message.get("type") != "assignment":
        raise ConfigurationError(
            f"expected an assignment frame, got {message and message.get('type')!r}"
        )
    fields = {}
    for name in ("id", "dispatcher_address", "token", "bundle_dir", "stdout", "stderr"):
        value = message.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ConfigurationError(f"assignment field {name!r} is missing or not a string")
        fields[name] = value
    if Path(fields["bundle_dir"]).resolve() != bundle_dir:
        raise ConfigurationError(
            f"assignment for bundle {fields['bundle_dir']!r} handed to a standby of {str(bundle_dir)!r}"
        )
    outputs = Path(fields["stdout"]), Path(fields["stderr"])
    if not all(path.is_absolute() for path in outputs):
        raise ConfigurationError("assignment output paths must be absolute")
    execution, registration = _handed_spec(message)
    return HandedAssignment(
        id=fields["id"],
        assignment=Assignment(
            dispatcher_address=fields["dispatcher_address"],
            token=fields["token"],
            bundle_dir=bundle_dir,
            execution=execution,
            registration=registration,
        ),
        stdout_path=outputs[0],
        stderr_path=outputs[1],
    )


def _handed_spec(message: dict[str, Any]) -> tuple[Any, Any]:
    """The TaskExecution and RegisterResponse the dispatcher handed over with the
    assignment (both or neither); ConfigurationError if they do not parse."""
    execution, registration = message.get("execution"), message.get("registration")
    if execution is None and registration is None:
        return None, None
    if not (isinstance(execution, str) and isinstance(registration, str)):
        raise ConfigurationError("assignment fields 'execution' and 'registration' come together, as strings")
    try:
        return (
            execution_pb2.TaskExecution.FromString(base64.b64decode(execution, validate=True)),
            agent_pb2.RegisterResponse.FromString(base64.b64decode(registration, validate=True)),
        )
    except (ValueError, DecodeError) as exc:
        raise ConfigurationError(f"the assignment's execution or registration does not parse: {exc}") from None


def serve(assign_fd: int, status_fd: int, config: StandbyConfig) -> NoReturn:
    """The standby's whole life (called in the freshly forked child; never returns)."""
    code = EXIT_CONFIGURATION
    try:
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)  # fd 0 when the template closed its stdin
        if devnull != 0:
            os.dup2(devnull, 0)
            os.close(devnull)
        forked_runner.fork_runner(config.bundle_dir, config.dag_file, preimport=config.preimport)
        code = asyncio.run(_wait_and_run(assign_fd, status_fd, config))
    except BaseException:  # noqa: BLE001 - a standby must always end through os._exit
        log.exception("standby agent failed")
    finally:
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(OSError, ValueError):
                stream.flush()
        os._exit(code)


def _tell(status_fd: int, message: dict[str, Any]) -> None:
    """One status frame to the template (small: a pipe write never blocks on it)."""
    with contextlib.suppress(OSError):
        os.write(status_fd, encode_frame(message))


async def _read_one(fd: int) -> dict[str, Any] | None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=MAX_ASSIGNMENT_BYTES + 4)
    transport, _ = await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
    )
    try:
        return await read_frame_async(reader, max_bytes=MAX_ASSIGNMENT_BYTES)
    finally:
        transport.close()


def _redirect_output(stdout_path: Path, stderr_path: Path) -> None:
    for target, path in ((1, stdout_path), (2, stderr_path)):
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.dup2(fd, target)
        os.close(fd)


async def _connect_ahead(addresses: tuple[str, ...]) -> list[Any]:
    """Open and connect channels to `addresses` (best effort: an address that is
    not up within a moment is connected on first use instead)."""
    channels = [open_channel(address) for address in addresses]
    try:
        await asyncio.wait_for(
            asyncio.gather(*(c.channel_ready() for c in channels)), CONNECT_AHEAD_TIMEOUT
        )
    except TimeoutError:
        log.warning(
            "could not connect ahead to %s; the task connects on first use", ", ".join(addresses)
        )
    return channels


async def _wait_and_run(assign_fd: int, status_fd: int, config: StandbyConfig) -> int:
    prestarted = forked_runner.prestarted()
    if prestarted is not None:
        await prestarted.attach()
    warm_channels = await _connect_ahead(config.warm_addresses)
    # The frames to the runner are written from the loop's default executor: its
    # first thread is started now rather than on the hot path.
    await asyncio.to_thread(int)
    try:
        return await _take_and_run(assign_fd, status_fd, config)
    finally:
        for channel in warm_channels:
            await channel.close()


async def _take_and_run(assign_fd: int, status_fd: int, config: StandbyConfig) -> int:
    _tell(status_fd, {"type": "ready"})
    try:
        message = await _read_one(assign_fd)
    except FrameError as exc:
        message = {"type": "broken", "reason": str(exc)}
    if message is None:  # drained before any task came
        await forked_runner.discard_unused()
        return EXIT_REPORTED
    try:
        handed = parse_assignment(message, config.bundle_dir)
    except ConfigurationError as exc:
        _tell(status_fd, {"type": "refused", "id": str(message.get("id", "")), "reason": str(exc)})
        log.error("refused the assignment: %s", exc)
        await forked_runner.discard_unused()
        return EXIT_CONFIGURATION
    _tell(status_fd, {"type": "accepted", "id": handed.id})
    os.close(status_fd)
    _redirect_output(handed.stdout_path, handed.stderr_path)
    spine_trace.mark("agent.assigned")
    options = AgentOptions(**config.options)  # pid and hostname: this process's
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        return await run_assignment(handed.assignment, options, config.base_env)
    finally:
        await forked_runner.discard_unused()
