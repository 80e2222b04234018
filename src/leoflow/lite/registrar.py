"""Keeps the scheduler's registry in step with the DAG folders of a Lite workspace.

For each folder: compile it (in its own virtualenv, a subprocess) and register the
result; a folder that fails keeps its last good version and gets an import error
(ImportErrorService), cleared once it compiles again; a folder that is gone has its
DAG deregistered (stale, history kept). Work on one folder is serialized: a change
arriving while the folder compiles runs it once more afterwards. Folders are
compiled concurrently, a few at a time.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import grpc
from google.protobuf import json_format
from leoflow_common.errors import NotFound
from leoflow_common.grpc import client_channel, error_from_rpc, static_token
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.scheduler.v1 import (
    import_errors_pb2,
    import_errors_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
)

from leoflow.compiler import CompileError, compile_dag
from leoflow.compiler.environment import MARKER, agent_source
from leoflow.compiler.project import load_project

from .workspace import (
    BUNDLE_NAME,
    PROJECT_FILE_NAME,
    FolderRecord,
    WorkspaceIndex,
    dag_folders,
    folder_fingerprint,
)

log = logging.getLogger(__name__)


class BuildReporter(Protocol):
    """Where the progress of each folder's compile goes (Lite's console)."""

    def begin(self, folder: str) -> None: ...
    def step(self, folder: str, message: str) -> None: ...
    def end(self, folder: str, outcome: str, ok: bool) -> None: ...


class LogReporter:
    """Progress as log lines."""

    def begin(self, folder: str) -> None:
        pass

    def step(self, folder: str, message: str) -> None:
        log.info("%s: %s", folder, message)

    def end(self, folder: str, outcome: str, ok: bool) -> None:
        (log.info if ok else log.error)("%s: %s", folder, outcome)


@dataclass
class FolderError(Exception):
    """Why a folder has no new version: the file to blame and what is wrong."""

    file: str
    message: str


@dataclass
class DagRegistrar:
    workspace: Path
    home: Path
    index: WorkspaceIndex
    scheduler_address: str
    token: str
    reporter: BuildReporter = field(default_factory=LogReporter)
    concurrency: int = 2
    # Where compiled dag.json files go (never the workspace: the watcher would see them).
    compiled_dir: Path | None = None

    def __post_init__(self) -> None:
        self._channel = client_channel(self.scheduler_address, static_token(self.token))
        self._registry = registry_pb2_grpc.DagRegistryServiceStub(self._channel)
        self._errors = import_errors_pb2_grpc.ImportErrorServiceStub(self._channel)
        self._slots = asyncio.Semaphore(self.concurrency)
        self._running: dict[str, asyncio.Task] = {}
        self._dirty: set[str] = set()
        self._agent_version = agent_source().version
        self.compiled_dir = self.compiled_dir or self.home / "lite" / "compiled"

    # -- entry points ---------------------------------------------------------------

    async def sync_all(self) -> None:
        """Bring the registry in step with the whole workspace (start-up): every
        folder refreshed, folders gone deregistered, stale import errors cleared."""
        present = {folder.name for folder in dag_folders(self.workspace)}
        for name in sorted(present | set(self.index.folders)):
            self.request(name)
        await self.idle()
        broken = [r.error_file for n, r in self.index.folders.items() if n in present and r.error_file]
        await self._errors.ClearImportErrors(
            import_errors_pb2.ClearImportErrorsRequest(bundle_name=BUNDLE_NAME, keep_filenames=broken, all_but_kept=True)
        )

    def request(self, name: str) -> None:
        """Refresh folder `name` soon (once more if it is being refreshed now)."""
        if name in self._running:
            self._dirty.add(name)
            return
        self._running[name] = asyncio.create_task(self._refresh_until_clean(name), name=f"lite:refresh:{name}")

    def request_many(self, names: Iterable[str]) -> None:
        for name in names:
            self.request(name)

    async def idle(self) -> None:
        """Until no folder is being refreshed."""
        while self._running:
            await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def stop(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*list(self._running.values()), return_exceptions=True)
        await self._channel.close()

    # -- one folder -----------------------------------------------------------------

    async def _refresh_until_clean(self, name: str) -> None:
        try:
            while True:
                self._dirty.discard(name)
                try:
                    await self.refresh(name)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 - one folder must never stop the others
                    log.exception("%s: refresh failed", name)
                if name not in self._dirty:
                    return
        finally:
            self._running.pop(name, None)

    async def refresh(self, name: str) -> None:
        """Register folder `name` as it is now, or deregister it if it is gone."""
        folder = self.workspace / name
        if not (folder / PROJECT_FILE_NAME).is_file():
            await self._remove(name)
            return
        record = self.index.record(name)
        fingerprint, _ = await asyncio.to_thread(folder_fingerprint, folder, self._agent_version)
        if fingerprint == record.fingerprint and not record.error_file and await self._still_registered(record):
            return
        self.reporter.begin(name)
        try:
            async with self._slots:
                result = await asyncio.to_thread(self._compile, folder)
            reply, dag_id = await self._register(name, result)
        except FolderError as exc:
            await self._record_error(name, exc)
            self.reporter.end(name, f"import error in {exc.file}: {exc.message}", ok=False)
            return
        previous = record.dag_id
        record.dag_id, record.fingerprint, record.error_file = dag_id, fingerprint, ""
        record.bundle_hash, record.environment_hash = result.bundle_hash, result.environment_hash
        record.version_number = reply.dag_version.version_number
        self.index.save()
        await self._errors.ClearImportErrors(
            import_errors_pb2.ClearImportErrorsRequest(bundle_name=BUNDLE_NAME, filename_prefix=f"{name}/")
        )
        if previous and previous != dag_id:
            await self._deregister(previous)  # the folder now defines another DAG
        state = "registered" if reply.created else "unchanged at"
        self.reporter.end(name, f"{dag_id} {state} version {reply.dag_version.version_number}", ok=True)

    def _compile(self, folder: Path):
        out = self.compiled_dir / folder.name / "dag.json"
        try:
            return compile_dag(folder, home=self.home, out=out, progress=lambda m: self.reporter.step(folder.name, m))
        except CompileError as exc:
            raise FolderError(exc.file or PROJECT_FILE_NAME, exc.one_line()) from None
        except OSError as exc:  # the folder changed under the compiler (files deleted...)
            raise FolderError(PROJECT_FILE_NAME, f"could not read the DAG folder: {exc}") from None

    async def _register(self, name: str, result) -> tuple[registry_pb2.RegisterDagVersionResponse, str]:
        spec = result.spec if isinstance(result.spec, dag_pb2.DagSpec) else json_format.ParseDict(result.spec, dag_pb2.DagSpec())
        for other in self.index.owners_of(spec.dag_id, other_than=name):
            if (self.workspace / other / PROJECT_FILE_NAME).is_file():
                raise FolderError(PROJECT_FILE_NAME, f"dag_id {spec.dag_id!r} is already defined by folder {other!r}")
        try:
            reply = await self._registry.RegisterDagVersion(registry_pb2.RegisterDagVersionRequest(spec=spec))
        except grpc.aio.AioRpcError as exc:
            source = spec.source.relative_fileloc or "dag.py"
            raise FolderError(source, f"the registry refused the DAG: {error_from_rpc(exc).message}") from None
        return reply, spec.dag_id

    async def _still_registered(self, record: FolderRecord) -> bool:
        """The registry still has this record's version as the DAG's latest (active),
        and its environment is built: nothing to compile."""
        venv_ready = (self.home / "venvs" / record.environment_hash / MARKER).is_file()
        if not (record.dag_id and venv_ready):
            return False
        try:
            dag = (await self._registry.GetDag(registry_pb2.GetDagRequest(dag_id=record.dag_id))).dag
        except grpc.aio.AioRpcError:
            return False
        return not dag.is_stale and dag.latest_version.version_number == record.version_number

    async def _record_error(self, name: str, error: FolderError) -> None:
        record = self.index.record(name)
        dag_id = record.dag_id
        try:
            dag_id = load_project(self.workspace / name)[0].dag_id
        except (CompileError, OSError):
            pass  # leoflow.yaml itself is broken: the folder's last good dag_id
        filename = f"{name}/{error.file}"
        await self._errors.RecordImportError(
            import_errors_pb2.RecordImportErrorRequest(
                filename=filename, bundle_name=BUNDLE_NAME, stack_trace=error.message,
                dag_id=dag_id, replaces_prefix=f"{name}/",
            )
        )
        record.error_file = filename
        self.index.save()

    async def _remove(self, name: str) -> None:
        record = self.index.folders.pop(name, None)
        if record is None:
            return
        self.index.save()
        await self._errors.ClearImportErrors(
            import_errors_pb2.ClearImportErrorsRequest(bundle_name=BUNDLE_NAME, filename_prefix=f"{name}/")
        )
        if record.dag_id and not self.index.owners_of(record.dag_id, other_than=name):
            await self._deregister(record.dag_id)
            self.reporter.end(name, f"folder removed: {record.dag_id} deregistered (history kept)", ok=True)

    async def _deregister(self, dag_id: str) -> None:
        try:
            await self._errors.DeregisterDag(import_errors_pb2.DeregisterDagRequest(dag_id=dag_id))
        except grpc.aio.AioRpcError as exc:
            if not isinstance(error_from_rpc(exc), NotFound):
                raise
