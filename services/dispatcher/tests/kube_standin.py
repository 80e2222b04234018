"""A STAND-IN for the Kubernetes pods API, for tests and benches only — not a
Kubernetes implementation. It speaks just enough of the real wire protocol for
the official `kubernetes` client to work against it unchanged:

- POST   /api/v1/namespaces/{ns}/pods            201 Created, 409 AlreadyExists, 422
- GET    /api/v1/namespaces/{ns}/pods/{name}     200, 404 NotFound
- GET    /api/v1/namespaces/{ns}/pods            list with labelSelector, limit and
                                                 continue; the list's resourceVersion
- GET    ...pods?watch=true&resourceVersion=N    chunked JSON watch events (ADDED,
                                                 MODIFIED, DELETED, BOOKMARK) after N;
                                                 an ERROR event with 410 Gone when N is
                                                 older than the kept history
- DELETE /api/v1/namespaces/{ns}/pods/{name}     200 with the pod, 404 NotFound

Nothing runs the pods: a test moves one through its phases with `set_status()`
(a MODIFIED event, as the kubelet would cause), makes history expire with
`compact()` or `expire_next_watch()`, holds events back with `pause_watches()`
and cuts open watches with `drop_watches()`. Errors are Status objects
shaped as the API server's.
"""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

from aiohttp import web


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _status(code: int, reason: str, message: str, **details: Any) -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }
    if details:
        body["details"] = details
    return web.json_response(body, status=code)


def _matches(labels: dict[str, str], selector: str) -> bool:
    for term in filter(None, (t.strip() for t in selector.split(","))):
        if "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = term.split("=", 1)
            if labels.get(key.rstrip("=")) != value.lstrip("="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


class KubeStandIn:
    """The stand-in server. Start with `await start()`; `host` is its URL."""

    def __init__(self, *, history: int = 100_000):
        self.pods: dict[tuple[str, str], dict[str, Any]] = {}
        self._version = 0
        # (resourceVersion, type, pod) — what a watch from an older version replays.
        self._events: deque[tuple[int, str, dict]] = deque(maxlen=history)
        self._oldest = 0  # versions at or below this are no longer kept
        self._changed = asyncio.Condition()
        self._watch_generation = 0
        # While paused, open watches deliver nothing (events are still recorded).
        self.paused = False
        self._expire_next_watch = False
        self.requests: list[tuple[str, str]] = []
        # Answers the next creates get instead of being served (code, reason, message).
        self.refusals: list[tuple[int, str, str]] = []
        self.host = ""
        self._runner: web.AppRunner | None = None

    # -- server --------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        base = "/api/v1/namespaces/{namespace}/pods"
        app.router.add_post(base, self._create)
        app.router.add_get(base, self._list_or_watch)
        app.router.add_get(base + "/{name}", self._get)
        app.router.add_delete(base + "/{name}", self._delete)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        self.host = f"http://127.0.0.1:{port}"
        return self.host

    async def stop(self) -> None:
        await self.drop_watches()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- what tests do -------------------------------------------------------------

    def pod(self, name: str, namespace: str = "leoflow-tasks") -> dict[str, Any] | None:
        return self.pods.get((namespace, name))

    def count(self, method: str) -> int:
        return sum(1 for m, _ in self.requests if m == method)

    async def set_status(
        self, name: str, status: dict[str, Any], namespace: str = "leoflow-tasks"
    ) -> dict:
        """Replace a pod's status, as the kubelet would (a MODIFIED event)."""
        pod = self.pods[(namespace, name)]
        pod["status"] = copy.deepcopy(status)
        await self._record("MODIFIED", pod)
        return pod

    async def add_pod(self, pod: dict[str, Any], namespace: str = "leoflow-tasks") -> dict:
        """Put a pod in place directly (as if created by someone else)."""
        return await self._insert(namespace, copy.deepcopy(pod))

    async def remove(self, name: str, namespace: str = "leoflow-tasks") -> None:
        """Delete a pod directly (a controller or a person did it)."""
        pod = self.pods.pop((namespace, name))
        await self._record("DELETED", pod)

    def refuse_next_create(self, code: int, reason: str, message: str) -> None:
        """Answer the next create with this error (RBAC, admission, quota...)."""
        self.refusals.append((code, reason, message))

    def compact(self) -> None:
        """Forget the event history: a watch from any earlier version gets 410 Gone."""
        self._oldest = self._version
        self._events.clear()

    def expire_next_watch(self) -> None:
        """Answer the next watch with 410 Gone whatever its resourceVersion (as when
        the server compacted its history right under the client)."""
        self._expire_next_watch = True

    def pause_watches(self) -> None:
        """Stop delivering events to open watches (a network partition)."""
        self.paused = True

    async def drop_watches(self) -> None:
        """End every open watch (clients reconnect from their last version); ends a pause."""
        async with self._changed:
            self.paused = False
            self._watch_generation += 1
            self._changed.notify_all()

    # -- handlers ------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        self.requests.append(("create", request.path))
        namespace = request.match_info["namespace"]
        if self.refusals:
            return _status(*self.refusals.pop(0))
        try:
            pod = await request.json()
        except ValueError:
            return _status(400, "BadRequest", "the body is not JSON")
        name = (pod.get("metadata") or {}).get("name")
        if not name:
            return _status(422, "Invalid", "Pod is invalid: metadata.name: Required value")
        if not (pod.get("spec") or {}).get("containers"):
            return _status(422, "Invalid", "Pod is invalid: spec.containers: Required value")
        if (namespace, name) in self.pods:
            return _status(
                409, "AlreadyExists", f'pods "{name}" already exists', name=name, kind="pods"
            )
        created = await self._insert(namespace, pod)
        return web.json_response(created, status=201)

    async def _get(self, request: web.Request) -> web.Response:
        self.requests.append(("get", request.path))
        pod = self.pods.get((request.match_info["namespace"], request.match_info["name"]))
        if pod is None:
            return _status(404, "NotFound", f'pods "{request.match_info["name"]}" not found')
        return web.json_response(pod)

    async def _delete(self, request: web.Request) -> web.Response:
        self.requests.append(("delete", request.path))
        key = (request.match_info["namespace"], request.match_info["name"])
        pod = self.pods.pop(key, None)
        if pod is None:
            return _status(404, "NotFound", f'pods "{key[1]}" not found')
        await self._record("DELETED", pod)
        return web.json_response(pod)

    async def _list_or_watch(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") in ("true", "1"):
            return await self._watch(request)
        self.requests.append(("list", request.path))
        namespace = request.match_info["namespace"]
        selector = request.query.get("labelSelector", "")
        matching = sorted(
            (
                pod
                for (ns, _), pod in self.pods.items()
                if ns == namespace and _matches(pod["metadata"].get("labels") or {}, selector)
            ),
            key=lambda p: p["metadata"]["name"],
        )
        start = int(request.query.get("continue") or 0)
        limit = int(request.query.get("limit") or 0) or len(matching) or 1
        page = matching[start : start + limit]
        metadata: dict[str, Any] = {"resourceVersion": str(self._version)}
        if start + limit < len(matching):
            metadata["continue"] = str(start + limit)
        return web.json_response(
            {"kind": "PodList", "apiVersion": "v1", "metadata": metadata, "items": page}
        )

    async def _watch(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(("watch", request.path))
        namespace = request.match_info["namespace"]
        selector = request.query.get("labelSelector", "")
        since = int(request.query.get("resourceVersion") or self._version)
        timeout = float(request.query.get("timeoutSeconds") or 1800)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        expired, self._expire_next_watch = self._expire_next_watch, False
        if since < self._oldest or expired:
            gone = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": f"too old resource version: {since} ({self._oldest})",
                "reason": "Expired",
                "code": 410,
            }
            await response.write(json.dumps({"type": "ERROR", "object": gone}).encode() + b"\n")
            return response
        generation = self._watch_generation
        deadline = asyncio.get_running_loop().time() + timeout
        sent = since
        while True:
            for version, kind, pod in [] if self.paused else list(self._events):
                if version <= sent:
                    continue
                sent = version
                if pod["metadata"].get("namespace") == namespace and _matches(
                    pod["metadata"].get("labels") or {}, selector
                ):
                    line = json.dumps({"type": kind, "object": pod}).encode() + b"\n"
                    try:
                        await response.write(line)
                    except (ConnectionError, RuntimeError):
                        return response
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0 or generation != self._watch_generation:
                return response
            async with self._changed:
                try:
                    await asyncio.wait_for(
                        self._changed.wait_for(
                            lambda sent=sent: (
                                self._version > sent or generation != self._watch_generation
                            )
                        ),
                        timeout=left,
                    )
                except TimeoutError:
                    return response

    # -- storage -------------------------------------------------------------------

    async def _insert(self, namespace: str, pod: dict[str, Any]) -> dict[str, Any]:
        metadata = pod.setdefault("metadata", {})
        metadata["namespace"] = namespace
        metadata.setdefault("uid", str(uuid.uuid4()))
        metadata.setdefault("creationTimestamp", _now())
        pod.setdefault("status", {"phase": "Pending", "qosClass": "Burstable"})
        self.pods[(namespace, metadata["name"])] = pod
        await self._record("ADDED", pod)
        return pod

    async def _record(self, kind: str, pod: dict[str, Any]) -> None:
        async with self._changed:
            self._version += 1
            pod["metadata"]["resourceVersion"] = str(self._version)
            self._events.append((self._version, kind, copy.deepcopy(pod)))
            self._changed.notify_all()
