"""The local backend's warm-start pool (LEOFLOW_DISPATCHER_WARM_POOL_SIZE > 0).

Per DAG environment recently used — the python that runs its agents (the DAG's
virtualenv), its bundle (one DAG version's folder) and its DAG file — one
warm-start template process (leoflow_agent.warm_start) keeps up to `size` standby
agents waiting with their interpreter, gRPC, the agent, a forked runner and the
DAG file's imports loaded, and connected to the control plane. A launch hands the
try's assignment (dispatcher address, token, bundle, output files) to one of them
instead of starting a fresh interpreter; the template forks a replacement.

Invariants:
- one OS process per try, never reused: a standby takes exactly one assignment
  and exits after it; the standby that answered "accepted" is the only process of
  that try. If no answer comes within `handover_timeout`, the template and every
  process it started that runs no accepted try are killed before the backend
  starts the try cold, so a late "accepted" cannot run a second copy;
- warm is an optimisation, never a precondition: a refused or failed hand-over,
  a template still starting, or one that broke, all mean a cold start;
- a template unused for `idle_timeout` is drained (its idle standbys exit; it
  exits once its accepted ones have ended, reporting their exit codes); a new
  version of a DAG (another bundle or environment) drains the previous one's; at
  most `max_templates` exist (the least recently used is drained for a new one);
- a key whose template broke gets none for `retry_after` seconds (no crash loop).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..base import LaunchRequest
from .plan import LocalLaunchPlan
from .processes import ProcessIdentity, identify, process_tree, signal_process
from .warm_protocol import WarmProtocolError, encode, read_event

log = logging.getLogger(__name__)

# A hand-over carries the try's TaskExecution when it is at most this big (else the
# agent fetches it with GetTaskSpec, as a cold one does).
MAX_HANDED_SPEC_BYTES = 1024 * 1024
# Commands a template has not read yet; past this it is taken as stuck.
MAX_UNSENT_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class PoolKey:
    """What standbys must share with the try they take."""

    python: str
    bundle: str
    dag_file: str


class NoAnswer(Exception):
    """A template did not answer a hand-over in time."""


@dataclass(frozen=True, slots=True)
class HandOver:
    """A try a standby accepted: its process, and the template that reports its end."""

    identity: ProcessIdentity
    template: WarmTemplate


class WarmTemplate:
    """One template process and what it told us (see the module docstring)."""

    def __init__(self, key: PoolKey, process: subprocess.Popen, events_fd: int, folder: Path):
        self.key = key
        self.process = process
        self.folder = folder
        self.last_used = time.monotonic()
        self.standbys: list[int] = []  # every standby it forked, in order
        self.failing = False
        self._events_fd = events_fd
        self._answers: dict[str, asyncio.Future] = {}
        self._exits: dict[int, asyncio.Future] = {}
        self._reader: asyncio.Task | None = None
        self._ended = asyncio.Event()
        # Bytes of commands the pipe did not take yet (a command over PIPE_BUF may
        # be written in parts): the rest goes, in order, when the pipe drains.
        self._unsent = bytearray()

    @classmethod
    def start(cls, key: PoolKey, plan: LocalLaunchPlan, folder: Path) -> WarmTemplate:
        """Start the template `plan` describes (its events pipe is passed as fd
        LEOFLOW_AGENT_WARM_EVENTS_FD); OSError if it cannot be started."""
        folder.mkdir(parents=True, exist_ok=True)
        events_read, events_write = os.pipe()
        try:
            env = {**plan.env, "LEOFLOW_AGENT_WARM_EVENTS_FD": str(events_write)}
            with (
                (folder / "stdout.log").open("ab") as stdout,
                (folder / "stderr.log").open("ab") as stderr,
            ):
                process = subprocess.Popen(  # noqa: ASYNC220 - fork/exec is quick
                    plan.argv,
                    cwd=plan.cwd,
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=stdout,
                    stderr=stderr,
                    pass_fds=(events_write,),
                    start_new_session=True,
                    close_fds=True,
                )
        except BaseException:
            os.close(events_read)
            raise
        finally:
            os.close(events_write)
        assert process.stdin is not None
        os.set_blocking(process.stdin.fileno(), False)
        template = cls(key, process, events_read, folder)
        template._reader = asyncio.create_task(
            template._read_events(), name=f"warm-template:{process.pid}"
        )
        return template

    @property
    def alive(self) -> bool:
        return not self._ended.is_set() and self.process.poll() is None

    @property
    def accepted_pids(self) -> set[int]:
        """Standbys running tries whose end is still to be reported."""
        return set(self._exits)

    @property
    def finished(self) -> bool:
        """The process exited and every event it wrote was read."""
        return self.process.poll() is not None and self._ended.is_set()

    @property
    def warm(self) -> bool:
        """Past its imports: it forked a standby already."""
        return bool(self.standbys) and self.alive and not self.failing

    async def assign(self, assignment: dict[str, Any], answer_within: float) -> int | None:
        """Hand `assignment` to a standby: the pid that accepted it; None when it was
        refused (or the template ended). NoAnswer when nothing came within
        `answer_within`: `kill` it before starting the try anywhere else."""
        request_id = uuid.uuid4().hex
        answer = asyncio.get_running_loop().create_future()
        self._answers[request_id] = answer
        self.last_used = time.monotonic()
        try:
            if not self._send({"type": "assign", "id": request_id, "assignment": assignment}):
                return None
            return await asyncio.wait_for(asyncio.shield(answer), answer_within)
        except TimeoutError:
            raise NoAnswer(
                f"warm-start template {self.process.pid} did not answer within {answer_within:g}s"
            ) from None
        finally:
            self._answers.pop(request_id, None)

    async def exit_code(self, pid: int) -> int | None:
        """The exit code of accepted standby `pid` (None if the template ended first)."""
        future = self._exits.get(pid)
        if future is None:
            return None
        try:
            return await future
        finally:
            self._exits.pop(pid, None)

    def drain(self) -> None:
        """No more assignments: idle standbys go, the template exits after the rest."""
        self._send({"type": "drain"})
        stdin = self.process.stdin
        if stdin is None or stdin.closed:
            return
        if self._unsent:  # what was handed over must arrive before end of file
            with contextlib.suppress(OSError, ValueError):
                asyncio.get_running_loop().remove_writer(stdin.fileno())
                os.set_blocking(stdin.fileno(), True)
                os.write(stdin.fileno(), self._unsent)
            self._unsent.clear()
        with contextlib.suppress(OSError):
            stdin.close()

    def kill(self, spare: set[int]) -> None:
        """SIGKILL the template and everything it started, except the accepted
        standbys in `spare` (and their descendants), which run tries."""
        trees = process_tree({self.process.pid, *spare})
        spared = set(spare) | {p.pid for pid in spare for p in trees.get(pid, [])}
        for identity in trees.get(self.process.pid, []):
            if identity.pid not in spared:
                signal_process(identity, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.drain()

    async def close(self) -> None:
        """Stop reading its events (the process itself is left to drain)."""
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    def _send(self, message: dict[str, Any]) -> bool:
        stdin = self.process.stdin
        if stdin is None or stdin.closed or not self.alive:
            return False
        if len(self._unsent) > MAX_UNSENT_BYTES:  # a template that stopped reading
            log.warning("warm-start template %d does not read its commands", self.process.pid)
            return False
        first = not self._unsent
        self._unsent += encode(message)
        if first:
            return self._write_unsent()
        return True

    def _write_unsent(self) -> bool:
        """Write what the pipe takes now; the rest when it is writable again."""
        stdin = self.process.stdin
        assert stdin is not None
        fd = stdin.fileno()
        try:
            written = os.write(fd, self._unsent)
        except BlockingIOError:
            written = 0
        except OSError as exc:
            log.warning("cannot write to warm-start template %d: %s", self.process.pid, exc)
            self._unsent.clear()
            asyncio.get_running_loop().remove_writer(fd)
            return False
        del self._unsent[:written]
        loop = asyncio.get_running_loop()
        if self._unsent:
            loop.add_writer(fd, self._write_unsent)
        else:
            loop.remove_writer(fd)
        return True

    async def _read_events(self) -> None:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader),
            os.fdopen(self._events_fd, "rb", buffering=0),
        )
        try:
            while (event := await read_event(reader)) is not None:
                self._on_event(event)
        except WarmProtocolError as exc:
            log.error("warm-start template %d is broken: %s", self.process.pid, exc)
            self.failing = True
        finally:
            transport.close()
            self._ended.set()
            for future in [*self._answers.values(), *self._exits.values()]:
                if not future.done():
                    future.set_result(None)

    def _on_event(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        if kind == "standby" and isinstance(event.get("pid"), int):
            self.standbys.append(event["pid"])
        elif kind == "accepted" and isinstance(event.get("pid"), int):
            answer = self._answers.get(str(event.get("id")))
            if answer is not None and not answer.done():
                # Registered before the answer is seen, so an exit cannot come first.
                self._exits[event["pid"]] = asyncio.get_running_loop().create_future()
                answer.set_result(event["pid"])
            else:  # too late: the try was given up on; this process must not run it
                log.error("standby %s accepted a withdrawn assignment: killing it", event["pid"])
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(event["pid"], signal.SIGKILL)
        elif kind == "refused":
            log.warning(
                "warm-start template %d refused an assignment: %s",
                self.process.pid,
                event.get("reason"),
            )
            answer = self._answers.get(str(event.get("id")))
            if answer is not None and not answer.done():
                answer.set_result(None)
        elif kind == "exited" and isinstance(event.get("pid"), int):
            future = self._exits.get(event["pid"])
            if future is not None and not future.done():
                code = event.get("returncode")
                future.set_result(code if isinstance(code, int) else None)
        elif kind == "failing":
            log.error("warm-start template %d: %s", self.process.pid, event.get("reason"))
            self.failing = True


PlanTemplate = Callable[[LaunchRequest, LocalLaunchPlan], LocalLaunchPlan]


def handed_spec(request: LaunchRequest) -> dict[str, str]:
    """The assignment's "execution" and "registration" (base64 protobuf): the agent
    then starts without Register and GetTaskSpec, two round trips on the path of
    every warm start. Nothing when the spec is too big to hand over (it is fetched)."""
    if request.registration is None:
        return {}
    spec = request.execution.SerializeToString()
    if len(spec) > MAX_HANDED_SPEC_BYTES:
        return {}
    return {
        "execution": base64.b64encode(spec).decode(),
        "registration": base64.b64encode(request.registration.SerializeToString()).decode(),
    }


class WarmPools:
    """Every template of this backend, by key (see the module docstring)."""

    def __init__(
        self,
        *,
        directory: Path,
        plan_template: PlanTemplate,
        idle_timeout: float,
        handover_timeout: float = 5.0,
        retry_after: float = 60.0,
        max_templates: int = 8,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._directory = directory
        self._plan_template = plan_template
        self._idle_timeout = idle_timeout
        self.handover_timeout = handover_timeout
        self._retry_after = retry_after
        self.max_templates = max_templates
        self._clock = clock
        self._templates: dict[PoolKey, WarmTemplate] = {}
        self._current: dict[tuple[str, str], PoolKey] = {}  # (tenant, dag_id) -> its key
        self._broken_until: dict[PoolKey, float] = {}
        self._retired: set[WarmTemplate] = set()  # drained, still reporting exits
        self._reaper: asyncio.Task | None = None

    def templates(self) -> list[WarmTemplate]:
        """The live templates, one per key (for tests and diagnostics)."""
        return list(self._templates.values())

    def start(self) -> None:
        self._reaper = asyncio.create_task(self._reap_idle(), name="warm-pools:reaper")

    async def stop(self) -> None:
        """Drain every template and stop listening to them."""
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
        for template in [*self._templates.values(), *self._retired]:
            template.drain()
            await template.close()
        self._templates.clear()
        self._retired.clear()

    async def hand_over(
        self, request: LaunchRequest, plan: LocalLaunchPlan, stdout: Path, stderr: Path
    ) -> HandOver | None:
        """Give the try to a warm standby; None: start it cold (a template for its
        environment is then started or kept, for the next try)."""
        key = PoolKey(str(plan.python), str(plan.cwd), request.execution.dag_file)
        self._invalidate_other_versions(request, key)
        template = self._templates.get(key)
        if template is not None and (not template.alive or template.failing):
            self._retire(template, broken=True)
            template = None
        if template is None:
            self._start_template(request, plan, key)
            return None
        if not template.warm:
            return None
        assignment = {
            "dispatcher_address": request.dispatcher_address,
            "token": request.agent_token,
            "bundle_dir": str(plan.cwd),
            "stdout": str(stdout),
            "stderr": str(stderr),
            **handed_spec(request),
        }
        try:
            pid = await template.assign(assignment, self.handover_timeout)
        except NoAnswer as exc:
            # It may still take the assignment later: nothing it started may run then.
            log.warning("%s: killing it and starting %s cold", exc, request.name)
            template.kill(spare=template.accepted_pids)
            self._retire(template, broken=True)
            return None
        if pid is None:  # refused (no standby free, or it ended): this one starts cold
            if not template.alive or template.failing:
                self._retire(template, broken=True)
            return None
        return HandOver(identify(pid), template)

    def _invalidate_other_versions(self, request: LaunchRequest, key: PoolKey) -> None:
        dag = (request.execution.tenant_id, request.execution.key.dag_id)
        previous = self._current.get(dag)
        self._current[dag] = key
        if (
            previous is not None
            and previous != key
            and (old := self._templates.get(previous)) is not None
        ):
            log.info("DAG %s/%s has a new version or environment: draining its warm pool", *dag)
            self._retire(old, broken=False)

    def _start_template(self, request: LaunchRequest, plan: LocalLaunchPlan, key: PoolKey) -> None:
        if self._broken_until.get(key, 0.0) > self._clock():
            return
        while len(self._templates) >= self.max_templates:
            # Memory stays bounded however many DAGs run: the least recently used goes.
            least = min(self._templates.values(), key=lambda t: t.last_used)
            log.info(
                "%d warm pools already: draining the least recently used (%s)",
                self.max_templates,
                least.key.bundle,
            )
            self._retire(least, broken=False)
        folder = self._directory / uuid.uuid4().hex[:12]
        try:
            template = WarmTemplate.start(key, self._plan_template(request, plan), folder)
        except (OSError, ValueError) as exc:
            log.warning("could not start a warm-start template for %s: %s", key.bundle, exc)
            self._broken_until[key] = self._clock() + self._retry_after
            return
        self._templates[key] = template
        log.info("warm-start template %d for %s (%s)", template.process.pid, key.bundle, key.python)

    def _retire(self, template: WarmTemplate, *, broken: bool) -> None:
        if self._templates.get(template.key) is template:
            del self._templates[template.key]
        if broken:
            self._broken_until[template.key] = self._clock() + self._retry_after
        template.drain()
        self._retired.add(template)

    async def _reap_idle(self) -> None:
        interval = max(0.05, min(self._idle_timeout / 2, 5.0))
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for template in list(self._templates.values()):
                if now - template.last_used > self._idle_timeout:
                    log.info(
                        "warm-start template %d idle for %gs: draining it",
                        template.process.pid,
                        self._idle_timeout,
                    )
                    self._retire(template, broken=False)
                elif not template.alive:
                    self._retire(template, broken=True)
            for template in list(self._retired):
                if template.finished:
                    await template.close()
                    self._retired.discard(template)
                    shutil.rmtree(template.folder, ignore_errors=True)
