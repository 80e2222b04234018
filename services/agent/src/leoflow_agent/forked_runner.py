"""A runner forked ahead of its task by a standby agent (warm start).

A cold agent starts its runner as a fresh interpreter (`python -P -m
leoflow_agent.runner`) once it knows its task. A standby agent (standby.py) forks
its runner instead, before it has an assignment and before it started any thread,
event loop or gRPC channel (fork is safe only then), so the runner's interpreter,
the agent's modules and, optionally, the DAG file's own imports are loaded by the
time the task arrives. Airflow's task runner forks its task process the same way.

Invariants (those of runner.py, plus):
- the forked runner is a process of its own, in a session of its own, with only
  five file descriptors: /dev/null on stdin, stdout and stderr pipes (the task's
  log) and the two frame pipes; it inherits nothing else of its parents;
- it runs at most one task and no user code before its environment frame: ahead
  of time it only imports modules (the DAG file's top-level imports, when asked);
  after it, it is runner.main, which loads the DAG file on a "prepare" frame and
  calls the task's code only on the work frame (sent after RUNNING's answer);
- its first frame is {"type": "environment", "env": {...}}, the environment user
  code sees (a cold runner gets it from exec): it replaces os.environ with it and
  from then on *is* runner.main on the same pipes, so the runner protocol is the
  cold runner's, whatever it grows into;
- anything else first, or end of file (the standby died or no task came), and
  the runner exits without running anything (fail closed, as runner.py).

`take_or_start` is ChildProcess.start, served by the prestarted runner when there
is one: the agent then supervises it as a ChildProcess, exactly as a started one.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import gc
import importlib
import importlib.util
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import runner, spine_trace
from .child_process import ChildProcess, LineSink, pump_lines
from .control_channel import ControlChannel, refuse_all
from .frames import MAX_FRAME_BYTES, FrameError, read_frame

log = logging.getLogger("leoflow.agent")

# The runner a standby forked and has not handed to a task yet (one per process: a
# standby runs exactly one assignment).
_prestarted: PrestartedRunner | None = None

# The first frame a forked runner reads: the environment user code will see.
ENVIRONMENT_FRAME = "environment"


# -- the standby's side ------------------------------------------------------------------


class _ForkedTransport:
    """What ChildProcess needs of asyncio's subprocess transport, for a forked child."""

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        self.pipes: list[asyncio.BaseTransport] = []

    def get_pid(self) -> int:
        return self.pid

    def get_returncode(self) -> int | None:
        return self.returncode

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.close()


class _ExitSignal:
    """ChildProcess's protocol, reduced to the event it waits on."""

    def __init__(self) -> None:
        self.exited = asyncio.Event()


class PrestartedRunner:
    """A forked runner waiting for its task. `attach` (in the event loop) starts
    reading its output, which is held until `bind` hands the runner to a task as a
    ChildProcess; the first frame it then gets is its environment."""

    def __init__(
        self,
        pid: int,
        bundle_dir: Path,
        *,
        control_write: int,
        reply_read: int,
        stdout_read: int,
        stderr_read: int,
    ):
        self.pid = pid
        self.bundle_dir = bundle_dir
        self._control_write = control_write
        self._reply_read = reply_read
        self._output = {"stdout": stdout_read, "stderr": stderr_read}
        self._transport = _ForkedTransport(pid)
        self._exit = _ExitSignal()
        self._pumps: list[asyncio.Task] = []
        self._held: list[tuple[str, str, bool]] = []
        self._sink: LineSink | None = None
        self._watch: asyncio.Task | None = None

    @property
    def alive(self) -> bool:
        """True until the forked runner exits (only a live one can take a task)."""
        return not self._exit.exited.is_set()

    async def attach(self) -> None:
        """Start reading its output and watching its exit (once the event loop runs)."""
        loop = asyncio.get_running_loop()
        for stream, fd in self._output.items():
            reader = asyncio.StreamReader(limit=64 * 1024)
            pipe, _ = await loop.connect_read_pipe(
                lambda r=reader: asyncio.StreamReaderProtocol(r), os.fdopen(fd, "rb", buffering=0)
            )
            self._transport.pipes.append(pipe)
            self._pumps.append(asyncio.create_task(pump_lines(reader, stream, self._line)))
        self._watch = asyncio.create_task(self._watch_exit())

    async def bind(
        self, on_line: LineSink, env: Mapping[str, str], **child_options: Any
    ) -> ChildProcess:
        """Hand the runner to a task: what it printed so far goes to `on_line` first,
        its environment is sent, and it is supervised as any started child
        (`child_options` as ChildProcess.start takes them, e.g. the request handler)."""
        self._sink = on_line
        for stream, text, complete in self._held:
            on_line(stream, text, complete)
        self._held.clear()
        options = {k: v for k, v in child_options.items() if k in ("handler", "max_frame_bytes")}
        channel = ControlChannel(
            self._reply_read,
            self._control_write,
            options.get("handler", refuse_all),
            max_frame_bytes=options.get("max_frame_bytes", MAX_FRAME_BYTES),
        )
        child = ChildProcess(self._transport, self._exit, self._pumps, channel)  # type: ignore[arg-type]
        await channel.send({"type": ENVIRONMENT_FRAME, "env": dict(env)})
        return child

    def _line(self, stream: str, text: str, complete: bool = True) -> None:
        if self._sink is None:
            self._held.append((stream, text, complete))
        else:
            self._sink(stream, text, complete)

    async def discard(self) -> None:
        """Kill a runner no task took, and wait for it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        if self._watch is None:  # never attached: no loop ever watched it
            os.waitpid(self.pid, 0)  # noqa: ASYNC222 - SIGKILLed just now: it is gone at once
            return
        await self._watch
        for task in self._pumps:
            task.cancel()
        self._transport.close()
        for fd in (self._control_write, self._reply_read):
            with contextlib.suppress(OSError):
                os.close(fd)

    async def _watch_exit(self) -> None:
        pid = self.pid
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            pidfd = None
        if pidfd is None:
            while True:
                reaped, status = os.waitpid(pid, os.WNOHANG)  # noqa: ASYNC222 - never blocks
                if reaped:
                    break
                await asyncio.sleep(0.01)  # no pidfd: nothing to wait on but time
        else:
            loop = asyncio.get_running_loop()
            readable = asyncio.Event()
            loop.add_reader(pidfd, readable.set)
            try:
                await readable.wait()
            finally:
                loop.remove_reader(pidfd)
                os.close(pidfd)
            status = os.waitpid(pid, 0)[1]  # noqa: ASYNC222 - the pidfd said it exited: never blocks
        self._transport.returncode = os.waitstatus_to_exitcode(status)
        self._exit.exited.set()


def fork_runner(bundle_dir: Path, dag_file: str, *, preimport: bool) -> PrestartedRunner:
    """Fork a runner for `bundle_dir` and keep it as this process's prestarted one.
    Call only while this process has a single thread (no event loop, no gRPC yet)."""
    global _prestarted
    control, reply, out, err = os.pipe(), os.pipe(), os.pipe(), os.pipe()
    for stream in (sys.stdout, sys.stderr):  # nothing buffered may be written twice
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    gc.freeze()  # as the template does (warm_start.freeze_heap): the runner's collections skip our heap
    pid = os.fork()
    if pid == 0:  # the runner
        try:
            _become_runner(
                control[0], reply[1], out[1], err[1], bundle_dir, dag_file if preimport else ""
            )
        finally:
            os._exit(runner.EXIT_BROKEN_CHANNEL)
    for fd in (control[0], reply[1], out[1], err[1]):
        os.close(fd)
    _prestarted = PrestartedRunner(
        pid,
        bundle_dir,
        control_write=control[1],
        reply_read=reply[0],
        stdout_read=out[0],
        stderr_read=err[0],
    )
    return _prestarted


def prestarted() -> PrestartedRunner | None:
    """This process's prestarted runner, if it has one no task took yet."""
    return _prestarted


async def take_or_start(
    argv: Sequence[str], *, cwd: str, env: Mapping[str, str], on_line: LineSink, **options: Any
) -> ChildProcess:
    """ChildProcess.start, served by the prestarted runner when this agent has a
    live one for `cwd` (and `argv` is a runner): takes the same arguments."""
    global _prestarted
    taken, _prestarted = _prestarted, None
    if (
        taken is not None
        and taken.alive
        and Path(cwd) == taken.bundle_dir
        and _is_runner(argv)
        and options.get("control")
    ):
        return await taken.bind(on_line, env, **options)
    if taken is not None:
        await taken.discard()
    return await ChildProcess.start(argv, cwd=cwd, env=env, on_line=on_line, **options)


def _is_runner(argv: Sequence[str]) -> bool:
    return list(argv[-2:]) == ["-m", "leoflow_agent.runner"]


async def discard_unused() -> None:
    """Stop the prestarted runner if no task took it (e.g. a bash task ran)."""
    global _prestarted
    taken, _prestarted = _prestarted, None
    if taken is not None:
        await taken.discard()


# -- the runner's side ------------------------------------------------------------------


def _become_runner(
    control_in: int, control_out: int, stdout: int, stderr: int, bundle_dir: Path, dag_file: str
) -> None:
    """The forked runner's whole life: isolate, warm, serve one run frame, exit."""
    os.setsid()
    # The standby keeps 0-2 open, so the pipes are all above 2 and survive these.
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(stdout, 1)
    os.dup2(stderr, 2)
    _close_all_but({0, 1, 2, control_in, control_out})
    signal.set_wakeup_fd(-1)
    for signum, handler in (
        (signal.SIGINT, signal.default_int_handler),
        (signal.SIGTERM, signal.SIG_DFL),
        (signal.SIGCHLD, signal.SIG_DFL),
    ):
        signal.signal(signum, handler)
    # A fresh interpreter has no logging configured; user code must not inherit the agent's.
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.setLevel(logging.WARNING)
    sys.argv = [runner.__file__]
    if dag_file:
        preimport(bundle_dir, dag_file)
    # Unbuffered and not closed: runner.main reads the next frames from the same fd.
    with os.fdopen(control_in, "rb", buffering=0, closefd=False) as frames_in:
        try:
            message = read_frame(frames_in)
        except FrameError as exc:
            print(f"leoflow runner: broken control channel: {exc}", file=sys.stderr)
            runner._exit(runner.EXIT_BROKEN_CHANNEL)
    if message is None:  # the standby went away without a task: nothing ran
        runner._exit(runner.EXIT_BROKEN_CHANNEL)
    env = message.get("env")
    if (
        message["type"] != ENVIRONMENT_FRAME
        or not isinstance(env, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())
    ):
        print(
            f"leoflow runner: expected its environment first, got a {message['type']!r} frame",
            file=sys.stderr,
        )
        runner._exit(runner.EXIT_BROKEN_CHANNEL)
    os.environ.clear()
    os.environ.update(env)
    if hasattr(time, "tzset"):
        time.tzset()  # TZ may differ from the standby's
    spine_trace.mark("runner.environment")
    runner.main(["--control-in", str(control_in), "--control-out", str(control_out)])


def _close_all_but(keep: set[int]) -> None:
    try:
        open_fds = [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        open_fds = list(range(3, 1024))
    for fd in open_fds:
        if fd not in keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def top_level_imports(source: str) -> list[str]:
    """The absolute modules a DAG file imports at its top level, in order."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return list(dict.fromkeys(names))


def preimport(bundle_dir: Path, dag_file: str) -> None:
    """Import the DAG file's top-level imports that live outside the bundle (never
    the file itself, nor the bundle's own modules: the DAG loader imports those
    afresh each time, so loading them ahead would run them twice). A failure is
    ignored here: the real load reports it in the task's log."""
    try:
        source = (bundle_dir / dag_file).read_text()
    except (OSError, UnicodeDecodeError):
        return
    bundle = str(bundle_dir)
    # As when the DAG file loads: the bundle first, so a bundle module shadowing
    # an installed one is recognised as the bundle's and left alone.
    sys.path.insert(0, bundle)
    try:
        for name in top_level_imports(source):
            try:
                spec = importlib.util.find_spec(name.partition(".")[0])
                if (
                    spec is None
                    or _inside(spec.origin, bundle)
                    or any(_inside(p, bundle) for p in spec.submodule_search_locations or ())
                ):
                    continue
                importlib.import_module(name)
            except BaseException:  # noqa: BLE001, S112 - any failure shows again, in the task's log, when the file loads
                continue
    finally:
        sys.path.remove(bundle)


def _inside(path: str | None, directory: str) -> bool:
    return bool(path) and os.path.abspath(path).startswith(directory.rstrip(os.sep) + os.sep)
