"""The kubernetes backend: one pod per task try, in the task namespace.

I/O only: the pod comes from build_pod(), what a pod's state means from
assess_pod(), and what the end means for the try from the supervisor. This
module creates, watches and deletes, and keeps the invariants:

- one pod per execution name, cluster-wide: names are deterministic, so a create
  answered 409 AlreadyExists means the pod was launched before (a redelivered
  request, a retry after a lost answer, a restart): this replica adopts it if the
  pod carries its label, and otherwise leaves it to the replica that launched it
  (whose address its agent dials) — it never starts a second one;
- each replica watches only the pods labelled with its own identity (list, then
  watch from the list's resourceVersion; re-list on 410 Gone);
- every pod the supervisor launched or adopted here is reported exactly once
  through `on_exit`, when its outcome says it ended (including pods that ended
  while the dispatcher was down, found by the list at start);
- a pod that ended without reaching a terminal phase (stuck Pending, node lost) is
  deleted; finished pods are deleted once `pod_retention` has passed.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ..base import ExecutionExit, ExitCause, ExitHandler, LaunchFailed, LaunchRequest
from . import labels as L
from .api import CONNECTION_ERRORS, PodApiError, PodsApi
from .outcome import PodLimits, PodOutcome, assess_pod
from .pod_spec import PodPlatform, build_pod
from .tracking import TrackedPod, slim_pod
from .watcher import PodWatcher

log = logging.getLogger(__name__)


class KubernetesBackend:
    name = "kubernetes"

    def __init__(
        self,
        *,
        api: PodsApi,
        platform: PodPlatform,
        limits: PodLimits,
        kill_grace: float,
        pod_retention: float,
        assess_interval: float,
        watch_timeout: int = 300,
        page_size: int = 500,
        api_retries: int = 3,
        retry_delay: float = 0.5,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        clock: Callable[[], float] = time.monotonic,
    ):
        self._api = api
        self._platform = platform
        self._limits = limits
        self._kill_grace = kill_grace
        self._pod_retention = pod_retention
        self._assess_interval = assess_interval
        self._api_retries = api_retries
        self._retry_delay = retry_delay
        self._wall_clock = wall_clock
        self._clock = clock
        self.selector = L.replica_selector(platform.deployment, platform.replica_id)
        self.watcher = PodWatcher(
            api,
            self.selector,
            on_snapshot=self._on_snapshot,
            on_event=self._on_event,
            watch_timeout=watch_timeout,
            page_size=page_size,
            retry_delay=retry_delay,
        )
        self._pods: dict[str, TrackedPod] = {}
        # Names launched or adopted whose pod this replica has not seen yet.
        self._claims: set[str] = set()
        self._on_exit: ExitHandler | None = None
        self._tasks: set[asyncio.Task] = set()
        self._loops: list[asyncio.Task] = []

    # -- ExecutionBackend ----------------------------------------------------------

    async def start(self, on_exit: ExitHandler) -> None:
        """List this replica's pods (so adopt() knows them), then watch."""
        self._on_exit = on_exit
        await self.watcher.sync()
        self._loops = [
            asyncio.create_task(self.watcher.run(), name="kubernetes:watch"),
            asyncio.create_task(self._housekeeping(), name="kubernetes:housekeeping"),
        ]

    async def stop(self) -> None:
        for task in self._loops:
            task.cancel()
        self.watcher.close()
        await asyncio.gather(*self._loops, return_exceptions=True)
        self._loops = []
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await asyncio.to_thread(self._api.close)

    async def launch(self, request: LaunchRequest) -> None:
        pod = build_pod(request, self._platform)  # LaunchFailed for what cannot run here
        name = request.name
        self._claims.add(name)
        try:
            created = await self._with_retries(
                lambda: self._api.create(pod), f"creating pod {name}"
            )
        except PodApiError as exc:
            if exc.status == 409:
                await self._already_exists(name)
                return
            self._claims.discard(name)
            raise LaunchFailed(f"Kubernetes refused the pod: {_explain(exc)}") from exc
        except CONNECTION_ERRORS as exc:
            self._claims.discard(name)
            raise LaunchFailed(f"the Kubernetes API could not be reached: {exc}") from exc
        self._remember(created)
        log.info("created pod %s/%s", self._api.namespace, name)

    async def adopt(self, name: str) -> bool:
        tracked = self._pods.get(name)
        if tracked is None:
            return False
        tracked.claimed = True
        self._assess(name, tracked)
        return True

    async def terminate(self, name: str) -> None:
        tracked = self._pods.get(name)
        if tracked is not None:
            tracked.delete_requested = True
        self._spawn(self._delete(name, report_if_gone=True), f"delete:{name}")

    async def diagnostics(self, name: str) -> str:
        tracked = self._pods.get(name)
        if tracked is None or tracked.outcome is None:
            return ""
        return tracked.outcome.message

    async def release(self, name: str) -> None:
        self._claims.discard(name)
        tracked = self._pods.get(name)
        if tracked is None:
            return
        tracked.claimed = False
        if tracked.terminal or tracked.reported:
            self._spawn(self._delete(name, report_if_gone=False), f"delete:{name}")

    # -- what the watch tells ------------------------------------------------------

    def tracked(self) -> dict[str, TrackedPod]:
        """This replica's pods as the backend knows them (read-only use)."""
        return self._pods

    async def _on_snapshot(self, pods: list[dict[str, Any]]) -> None:
        listed = {(p.get("metadata") or {}).get("name"): p for p in pods}
        for name in [n for n in self._pods if n not in listed]:
            # Gone while nobody watched: the last state known is all there is.
            await self._on_event("DELETED", {"metadata": {"name": name}, **self._last_state(name)})
        for name, pod in listed.items():
            if name:
                self._update(name, pod)

    async def _on_event(self, kind: str, pod: dict[str, Any]) -> None:
        name = (pod.get("metadata") or {}).get("name")
        if not name:
            return
        if kind == "DELETED":
            tracked = self._pods.pop(name, None)
            if tracked is None:
                return
            tracked.pod = slim_pod(pod) if pod.get("status") else tracked.pod
            if tracked.claimed and not tracked.reported:
                outcome = assess_pod(
                    tracked.pod, now=self._wall_clock(), limits=self._limits, deleted=True
                )
                self._report(name, tracked, outcome)
            return
        self._update(name, pod)

    def _update(self, name: str, pod: dict[str, Any]) -> None:
        tracked = self._pods.get(name)
        if tracked is None:
            tracked = self._pods[name] = TrackedPod(slim_pod(pod))
        else:
            tracked.pod = slim_pod(pod)
        if name in self._claims:
            self._claims.discard(name)
            tracked.claimed = True
        self._assess(name, tracked)

    def _remember(self, created: dict[str, Any]) -> None:
        name = (created.get("metadata") or {}).get("name")
        if name and name not in self._pods:
            self._update(name, created)

    def _last_state(self, name: str) -> dict[str, Any]:
        return {"status": self._pods[name].pod.get("status") or {}}

    def _assess(self, name: str, tracked: TrackedPod) -> None:
        if tracked.terminal and tracked.finished_at is None:
            tracked.finished_at = self._clock()
        if not tracked.claimed or tracked.reported:
            return
        outcome = assess_pod(tracked.pod, now=self._wall_clock(), limits=self._limits)
        tracked.outcome = outcome
        if outcome.ended:
            self._report(name, tracked, outcome)

    def _report(self, name: str, tracked: TrackedPod, outcome: PodOutcome) -> None:
        tracked.reported = True
        tracked.outcome = outcome
        if tracked.finished_at is None:
            tracked.finished_at = self._clock()
        log.info("pod %s ended: %s", name, outcome.message.splitlines()[0])
        if outcome.needs_delete and not tracked.delete_requested:
            tracked.delete_requested = True
            self._spawn(self._delete(name, report_if_gone=False), f"delete:{name}")
        self._spawn(self._tell(exit_of(name, outcome)), f"exit:{name}")

    async def _already_exists(self, name: str) -> None:
        """A create found the name taken: adopt our own pod, leave another's."""
        existing = await self._with_retries(lambda: self._api.get(name), f"reading pod {name}")
        if existing is None:  # deleted in between: it ended; nobody will tell more
            self._claims.discard(name)
            raise LaunchFailed(f"pod {name} existed but was deleted while being adopted")
        owner = ((existing.get("metadata") or {}).get("labels") or {}).get(L.DISPATCHER)
        if owner == L.label_value(self._platform.replica_id):
            log.info("pod %s already exists (launched before): adopted", name)
            self._update(name, existing)
            return
        self._claims.discard(name)
        log.info("pod %s was launched by dispatcher %s: left to it", name, owner)
        self._spawn(
            self._tell(ExecutionExit(name, None, supervised_elsewhere=True)), f"exit:{name}"
        )

    # -- background work -----------------------------------------------------------

    async def _housekeeping(self) -> None:
        """Re-assess waiting pods (grace periods pass without events) and delete
        finished pods past their retention."""
        while True:
            await asyncio.sleep(self._assess_interval)
            try:
                self.sweep()
            except Exception:  # noqa: BLE001 - one bad pass must not end the loop
                log.exception("kubernetes housekeeping failed")

    def sweep(self) -> int:
        """One housekeeping pass; returns how many deletions it started."""
        now = self._clock()
        deletions = 0
        for name, tracked in list(self._pods.items()):
            # Only a waiting pod's outcome changes with time alone (grace periods);
            # any other change comes with an event.
            if tracked.claimed and not tracked.reported and tracked.phase == "Pending":
                self._assess(name, tracked)
            finished = tracked.finished_at
            if (
                finished is not None
                and (tracked.reported or not tracked.claimed)
                and not tracked.delete_requested
                and now - finished >= self._pod_retention
            ):
                tracked.delete_requested = True
                self._spawn(self._delete(name, report_if_gone=False), f"gc:{name}")
                deletions += 1
        return deletions

    async def _delete(self, name: str, *, report_if_gone: bool) -> None:
        grace = max(0, math.ceil(self._kill_grace))
        try:
            existed = await self._with_retries(
                lambda: self._api.delete(name, grace_seconds=grace), f"deleting pod {name}"
            )
        except (PodApiError, *CONNECTION_ERRORS) as exc:
            log.warning("could not delete pod %s: %s", name, exc)
            tracked = self._pods.get(name)
            if tracked is not None:
                tracked.delete_requested = False  # the next sweep tries again
            return
        tracked = self._pods.get(name)
        if not existed and tracked is not None:
            self._pods.pop(name, None)
            if report_if_gone and tracked.claimed and not tracked.reported:
                outcome = assess_pod(
                    tracked.pod, now=self._wall_clock(), limits=self._limits, deleted=True
                )
                self._report(name, tracked, outcome)

    async def _with_retries(self, call: Callable[[], Any], what: str) -> Any:
        """Run a blocking API call in a thread, retrying when the connection failed
        (the answer may have been lost: a retried create then gets 409, which
        adoption handles)."""
        for attempt in range(self._api_retries + 1):
            try:
                return await asyncio.to_thread(call)
            except PodApiError as exc:
                if exc.status < 500 or attempt == self._api_retries:
                    raise
                log.warning("%s: %s (retrying)", what, exc)
            except CONNECTION_ERRORS as exc:
                if attempt == self._api_retries:
                    raise
                log.warning("%s: %s (retrying)", what, exc)
            await asyncio.sleep(self._retry_delay * (2**attempt))
        raise AssertionError("unreachable")

    async def _tell(self, exit: ExecutionExit) -> None:
        if self._on_exit is None:
            return
        try:
            await self._on_exit(exit)
        except Exception:  # noqa: BLE001 - logged; the watch has nobody to tell
            log.exception("handling the end of %s failed", exit.name)

    def _spawn(self, coroutine, name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def exit_of(name: str, outcome: PodOutcome) -> ExecutionExit:
    """The ExecutionExit the supervisor gets for a pod's end."""
    if outcome.succeeded:
        # The agent exits 0 only once it reported the try's outcome: nothing to add.
        return ExecutionExit(name, 0)
    cause = ExitCause(
        message=outcome.message,
        kind_if_started=outcome.failure_kind(True),
        kind_if_not_started=outcome.failure_kind(False),
    )
    return ExecutionExit(name, outcome.exit_code, outcome.message, cause=cause)


def _explain(exc: PodApiError) -> str:
    if exc.status == 403:
        return f"forbidden ({exc.message}); the dispatcher's service account needs pod rights in the task namespace"
    return str(exc)
