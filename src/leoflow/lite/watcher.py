"""Hot reload: watch the workspace (watchfiles: inotify on Linux) and hand each
changed DAG folder to the registrar.

Changes are grouped until the file system is quiet for STEP_MS (an editor's save is
often several writes: temp file, rename, chmod), at most DEBOUNCE_MS, so a save
becomes one refresh of the one folder it touched. A folder created or deleted is a
change like any other: the registrar registers or deregisters it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

from watchfiles import Change, awatch

from .registrar import DagRegistrar
from .workspace import folder_of, is_relevant_change

log = logging.getLogger(__name__)

STEP_MS = 150
DEBOUNCE_MS = 1200


def changed_folders(workspace: Path, changes: set[tuple[Change, str]]) -> set[str]:
    """Top-level folder names touched by a batch of changes."""
    names = set()
    for _, raw in changes:
        name = folder_of(workspace, Path(raw))
        if name is not None:
            names.add(name)
    return names


class WorkspaceWatcher:
    """Runs until stop(): every batch of changes -> registrar.request(folder)."""

    def __init__(self, workspace: Path, registrar: DagRegistrar):
        self.workspace = workspace
        self.registrar = registrar
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None
        self.ready = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="lite:watcher")

    async def _run(self) -> None:
        watch_filter = lambda _change, path: is_relevant_change(path)  # noqa: E731
        while not self._stop.is_set():
            try:
                self.ready.set()
                async for changes in awatch(
                    self.workspace, watch_filter=watch_filter, step=STEP_MS, debounce=DEBOUNCE_MS,
                    stop_event=self._stop, recursive=True,
                ):
                    names = changed_folders(self.workspace, changes)
                    if names:
                        log.debug("changed: %s", ", ".join(sorted(names)))
                        self.registrar.request_many(sorted(names))
            except FileNotFoundError:
                # The workspace itself was removed: check again every few seconds; when
                # it is back, every folder Lite knew is refreshed (or deregistered).
                log.warning("workspace %s is gone; waiting for it to reappear", self.workspace)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), timeout=3)
                if self.workspace.is_dir():
                    self.registrar.request_many(sorted(set(self.registrar.index.folders)))

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._task, timeout=5)
            self._task = None
