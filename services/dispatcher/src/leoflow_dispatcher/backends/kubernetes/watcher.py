"""List-then-watch of one replica's pods (the informer pattern, reduced to what
the backend needs).

Invariant: the handler sees every change of every matching pod, in order, from
a complete snapshot on: `list()` gives the pods and a resourceVersion, the watch
continues from it (and from each event's or bookmark's resourceVersion after a
reconnect). When the server no longer keeps that version (410 Gone) or the watch
fails, the next pass re-lists and hands over a new snapshot: the handler then
treats pods missing from it as deleted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from .api import CONNECTION_ERRORS, PodApiError, PodList, PodsApi, PodWatch, ResourceExpired

log = logging.getLogger(__name__)

SnapshotHandler = Callable[[list[dict[str, Any]]], Awaitable[None]]
EventHandler = Callable[[str, dict[str, Any]], Awaitable[None]]
_END = object()


class PodWatcher:
    def __init__(
        self,
        api: PodsApi,
        selector: str,
        *,
        on_snapshot: SnapshotHandler,
        on_event: EventHandler,
        watch_timeout: int,
        page_size: int,
        retry_delay: float = 1.0,
    ):
        self._api = api
        self._selector = selector
        self._on_snapshot = on_snapshot
        self._on_event = on_event
        self._watch_timeout = watch_timeout
        self._page_size = page_size
        self._retry_delay = retry_delay
        self._stream: PodWatch | None = None
        self.resource_version = ""
        # Counters for tests and metrics.
        self.lists = 0
        self.expired = 0

    async def sync(self) -> None:
        """List the pods and hand the snapshot over."""
        pods: PodList = await asyncio.to_thread(
            self._api.list, self._selector, page_size=self._page_size
        )
        self.lists += 1
        self.resource_version = pods.resource_version
        await self._on_snapshot(pods.items)

    async def run(self) -> None:
        """Watch until cancelled (call sync() first)."""
        needs_list = False
        while True:
            try:
                if needs_list:
                    await self.sync()
                    needs_list = False
                await self._watch_once()
            except ResourceExpired as exc:
                self.expired += 1
                log.info("pod watch expired (%s): listing again", exc)
                needs_list = True
            except (PodApiError, *CONNECTION_ERRORS) as exc:
                log.warning("pod watch failed (%s): retrying in %gs", exc, self._retry_delay)
                needs_list = True
                await asyncio.sleep(self._retry_delay)
            except Exception:  # noqa: BLE001 - a bad event must not end the watch for good
                log.exception("pod watch broke: listing again in %gs", self._retry_delay)
                needs_list = True
                await asyncio.sleep(self._retry_delay)

    def close(self) -> None:
        """End the current watch request (its reading thread returns)."""
        if self._stream is not None:
            self._stream.close()

    async def _watch_once(self) -> None:
        stream = await asyncio.to_thread(
            self._api.watch,
            self._selector,
            self.resource_version,
            timeout_seconds=self._watch_timeout,
        )
        self._stream = stream
        events = iter(stream)
        try:
            while True:
                # One thread hop per event; the thread blocks only while the stream is quiet.
                event = await asyncio.to_thread(next, events, _END)
                if event is _END:
                    return
                kind = event.get("type")
                pod = event.get("object") or {}
                version = (pod.get("metadata") or {}).get("resourceVersion")
                if kind == "BOOKMARK":
                    self.resource_version = version or self.resource_version
                    continue
                await self._on_event(kind, pod)
                if version:
                    self.resource_version = version
        finally:
            stream.close()
            self._stream = None
