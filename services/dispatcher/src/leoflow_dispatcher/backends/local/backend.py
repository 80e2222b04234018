"""The local backend: one OS process per task try.

Each agent runs in a session (and process group) of its own. Its stdout and
stderr go to files in <work_dir>/<name>/ next to its pid file; the pid file lets a
restarted dispatcher adopt the agents it started before. Processes this
dispatcher started are watched by waiting on them (exit code known); adopted ones
by polling (exit code unknown).

With a warm pool (warm_pool.py), a launch hands the try to a standby agent that
is already running instead; the backend then watches that process the same way,
its exit code coming from the template that forked it.

Stopping an execution: SIGTERM to the agent's group (the agent stops the task
itself and reports why), SIGKILL after the grace. The agent may run user code in
a session of its own, which its group does not hold, so the backend also keeps
track of every descendant it saw (refreshed each poll, and right before a stop):
when an agent ends, by itself or killed, every descendant still running is
killed too — nothing the task started outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from leoflow_common import spine_trace

from ... import metrics
from ..base import ExecutionExit, ExitHandler, LaunchFailed, LaunchRequest
from .plan import plan_local_launch
from .processes import (
    ProcessIdentity,
    identify,
    is_running,
    process_tree,
    read_pid_file,
    signal_group,
    signal_process,
    tail,
    wait_for_exit,
    wait_until_gone,
    write_pid_file,
)
from .warm_pool import HandOver, WarmPools, WarmTemplate

log = logging.getLogger(__name__)

PID_FILE = "pid"
STDOUT_FILE = "stdout.log"
STDERR_FILE = "stderr.log"


@dataclass
class _Tracked:
    """One agent process this backend watches."""

    identity: ProcessIdentity
    exited: asyncio.Event = field(default_factory=asyncio.Event)
    watcher: asyncio.Task | None = None
    # Every descendant seen while it ran, by pid.
    descendants: dict[int, ProcessIdentity] = field(default_factory=dict)


class LocalBackend:
    name = "local"

    def __init__(
        self,
        *,
        work_dir: Path,
        venv_root: Path,
        fallback_python: str,
        host_env: Mapping[str, str],
        kill_grace: float,
        poll_interval: float,
        warm_pools: WarmPools | None = None,
    ):
        self._work_dir = work_dir
        self._venv_root = venv_root
        self._fallback_python = fallback_python
        self._host_env = dict(host_env)
        self._kill_grace = kill_grace
        self._poll_interval = poll_interval
        self._on_exit: ExitHandler | None = None
        self._tracked: dict[str, _Tracked] = {}
        self._kills: set[asyncio.Task] = set()
        self._tree_watch: asyncio.Task | None = None
        self._pools = warm_pools

    async def start(self, on_exit: ExitHandler) -> None:
        self._work_dir.mkdir(parents=True, exist_ok=True)
        self._on_exit = on_exit
        self._tree_watch = asyncio.create_task(self._watch_trees(), name="local-backend:trees")
        if self._pools is not None:
            self._pools.start()

    async def stop(self) -> None:
        if self._pools is not None:
            await self._pools.stop()
        if self._kills:
            await asyncio.gather(*self._kills, return_exceptions=True)
        tasks = [t.watcher for t in self._tracked.values() if t.watcher is not None]
        if self._tree_watch is not None:
            tasks.append(self._tree_watch)
            self._tree_watch = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tracked.clear()

    def directory(self, name: str) -> Path:
        """Where `name`'s pid file and output live."""
        return self._work_dir / name

    def known_descendants(self, name: str) -> set[int]:
        """Pids of the processes `name`'s agent started that this backend has seen."""
        tracked = self._tracked.get(name)
        return set(tracked.descendants) if tracked else set()

    async def launch(self, request: LaunchRequest) -> None:
        if spine_trace.ENABLED:
            spine_trace.mark("dispatcher.launch", request.execution.key.task_id)
        plan = plan_local_launch(
            request,
            venv_root=self._venv_root,
            fallback_python=self._fallback_python,
            host_env=self._host_env,
        )
        if plan.venv is not None and not plan.venv.is_dir():
            raise LaunchFailed(
                f"the DAG's virtualenv {plan.venv} does not exist (compile the DAG on this machine to create it)"
            )
        if not os.access(plan.python, os.X_OK):
            raise LaunchFailed(f"no executable python at {plan.python}")
        if not plan.cwd.is_dir():
            raise LaunchFailed(f"the DAG bundle directory {plan.cwd} does not exist")
        folder = self.directory(request.name)
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LaunchFailed(f"cannot create {folder}: {exc.strerror or exc}") from exc
        if self._pools is not None:
            handed = await self._pools.hand_over(
                request, plan, folder / STDOUT_FILE, folder / STDERR_FILE
            )
            if handed is not None:
                self._follow_warm(request, handed)
                return
        metrics.LOCAL_STARTS.labels("cold").inc()
        try:
            with (
                (folder / STDOUT_FILE).open("ab") as stdout,
                (folder / STDERR_FILE).open("ab") as stderr,
            ):
                # Popen, not asyncio's subprocess: asyncio kills a child whose transport
                # is closed, and executions must be able to outlive this dispatcher.
                process = subprocess.Popen(  # noqa: ASYNC220 - fork/exec is quick; see above
                    plan.argv,
                    cwd=plan.cwd,
                    env=plan.env,
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    start_new_session=True,
                    close_fds=True,
                )
        except OSError as exc:
            raise LaunchFailed(f"could not start {plan.python}: {exc.strerror or exc}") from exc
        identity = identify(process.pid)
        self._track(request.name, identity)
        try:
            write_pid_file(folder / PID_FILE, identity)
        except OSError as exc:  # the process runs; only a restart could not adopt it
            log.warning("could not write the pid file of %s: %s", request.name, exc)
        self._watch(request.name, self._wait_child(request.name, identity, process))
        if spine_trace.ENABLED:
            spine_trace.mark("dispatcher.launched", request.execution.key.task_id)
        log.info("started %s (pid %d): %s", request.name, process.pid, " ".join(plan.argv))

    def _follow_warm(self, request: LaunchRequest, handed: HandOver) -> None:
        """Watch the standby that took `request` as if this backend had started it."""
        metrics.LOCAL_STARTS.labels("warm").inc()
        identity = handed.identity
        self._track(request.name, identity)
        try:
            write_pid_file(self.directory(request.name) / PID_FILE, identity)
        except OSError as exc:  # it runs; only a restart could not adopt it
            log.warning("could not write the pid file of %s: %s", request.name, exc)
        self._watch(request.name, self._wait_warm(request.name, identity, handed.template))
        if spine_trace.ENABLED:
            spine_trace.mark("dispatcher.launched", request.execution.key.task_id)
        log.info("handed %s to warm standby agent %d", request.name, identity.pid)

    async def adopt(self, name: str) -> bool:
        if name in self._tracked:
            return True
        identity = read_pid_file(self.directory(name) / PID_FILE)
        if identity is None or not is_running(identity):
            return False
        self._track(name, identity)
        self._watch(name, self._poll_adopted(name, identity))
        log.info("adopted %s (pid %d)", name, identity.pid)
        return True

    async def terminate(self, name: str) -> None:
        tracked = self._tracked.get(name)
        if tracked is None:
            return
        self._refresh_descendants()
        signal_group(tracked.identity, signal.SIGTERM)
        kill = asyncio.create_task(self._kill_after_grace(tracked), name=f"kill:{name}")
        self._kills.add(kill)
        kill.add_done_callback(self._kills.discard)

    async def diagnostics(self, name: str) -> str:
        return tail(self.directory(name) / STDERR_FILE)

    async def release(self, name: str) -> None:
        tracked = self._tracked.pop(name, None)
        if tracked is not None and tracked.watcher is not None:
            tracked.watcher.cancel()
        shutil.rmtree(self.directory(name), ignore_errors=True)

    # -- watching ------------------------------------------------------------------

    def _track(self, name: str, identity: ProcessIdentity) -> None:
        self._tracked[name] = _Tracked(identity)

    def _watch(self, name: str, coroutine) -> None:
        self._tracked[name].watcher = asyncio.create_task(coroutine, name=f"watch:{name}")

    async def _watch_trees(self) -> None:
        while True:
            try:
                if self._tracked:
                    self._refresh_descendants()
            except Exception:  # noqa: BLE001 - logged; the next pass retries
                log.exception("could not scan the process tree")
            await asyncio.sleep(self._poll_interval)

    def _refresh_descendants(self) -> None:
        running = {t.identity.pid: t for t in self._tracked.values() if not t.exited.is_set()}
        for root, found in process_tree(set(running)).items():
            tracked = running[root]
            for identity in found:
                tracked.descendants.setdefault(identity.pid, identity)

    def _kill_everything(self, tracked: _Tracked) -> None:
        signal_group(tracked.identity, signal.SIGKILL, leader_checked=False)
        for identity in tracked.descendants.values():
            signal_process(identity, signal.SIGKILL)

    async def _wait_child(
        self, name: str, identity: ProcessIdentity, process: subprocess.Popen
    ) -> None:
        exit_code = await wait_for_exit(process, poll_interval=self._poll_interval)
        await self._ended(name, identity, exit_code)

    async def _wait_warm(
        self, name: str, identity: ProcessIdentity, template: WarmTemplate
    ) -> None:
        # Not our child: its template reaps it and reports the exit code.
        exit_code = await template.exit_code(identity.pid)
        if exit_code is None:  # the template ended first: nobody can tell the code
            await wait_until_gone(identity, poll_interval=self._poll_interval)
        await self._ended(name, identity, exit_code)

    async def _poll_adopted(self, name: str, identity: ProcessIdentity) -> None:
        # Not our child: its exit code is lost.
        await wait_until_gone(identity, poll_interval=self._poll_interval)
        await self._ended(name, identity, None)

    async def _ended(self, name: str, identity: ProcessIdentity, exit_code: int | None) -> None:
        tracked = self._tracked.pop(name, None)
        if tracked is not None:
            # The agent is gone; whatever it started goes with it.
            tracked.exited.set()
            self._kill_everything(tracked)
        with contextlib.suppress(OSError):
            (self.directory(name) / PID_FILE).unlink()
        log.info("%s ended with exit code %s", name, exit_code)
        if self._on_exit is None:
            return
        try:
            await self._on_exit(ExecutionExit(name, exit_code, await self.diagnostics(name)))
        except Exception:  # noqa: BLE001 - logged; the watcher has nobody to tell
            log.exception("handling the end of %s failed", name)

    async def _kill_after_grace(self, tracked: _Tracked) -> None:
        try:
            await asyncio.wait_for(tracked.exited.wait(), timeout=self._kill_grace)
        except TimeoutError:
            log.warning(
                "pid %d did not stop within %gs of SIGTERM: killing it",
                tracked.identity.pid,
                self._kill_grace,
            )
            self._refresh_descendants()
            self._kill_everything(tracked)
