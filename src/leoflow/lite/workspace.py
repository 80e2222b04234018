"""The workspace as Lite knows it: which DAG folders exist, and what each last
registered (persisted in <home>/lite/workspace.json).

A DAG folder is a top-level directory of the workspace holding a leoflow.yaml.
The index remembers, per folder, the dag_id and content hashes of its last good
registration, so that:
- a warm start skips compiling folders whose content, environment and registered
  version are unchanged;
- a folder deleted while Lite was down is still deregistered on the next start;
- a broken leoflow.yaml still attributes its import error to the right DAG.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from leoflow.compiler.bundle import IGNORED_NAMES, IGNORED_SUFFIXES, bundle_files, bundle_hash
from leoflow.compiler.project import PROJECT_FILE

PROJECT_FILE_NAME = PROJECT_FILE
# What Lite's bundle_name is, in import errors and the UI (Airflow's default bundle).
BUNDLE_NAME = "dags-folder"


def dag_folders(workspace: Path) -> list[Path]:
    """The workspace's DAG folders, sorted by name."""
    if not workspace.is_dir():
        return []
    return sorted(p.parent for p in workspace.glob(f"*/{PROJECT_FILE}") if p.is_file() and not p.parent.name.startswith("."))


def folder_of(workspace: Path, path: Path) -> str | None:
    """The top-level folder name a changed path belongs to, or None (the workspace
    itself, a file at its top level, hidden folders, ignored debris)."""
    try:
        parts = path.relative_to(workspace).parts
    except ValueError:
        return None
    if len(parts) < 1 or parts[0].startswith("."):
        return None
    if len(parts) == 1 and (workspace / parts[0]).is_file():
        return None
    if any(part in IGNORED_NAMES for part in parts[1:]) or parts[-1].endswith(IGNORED_SUFFIXES):
        return None
    return parts[0]


def is_relevant_change(path: str) -> bool:
    """watchfiles filter: drop editors' and Python's debris (the folder's content
    hash ignores them anyway; this only saves a wake-up)."""
    name = os.path.basename(path)
    if name in IGNORED_NAMES or name.endswith(IGNORED_SUFFIXES):
        return False
    if name.endswith(("~", ".swp", ".swx", ".tmp")) or name.startswith(".#"):
        return False
    return not any(part in IGNORED_NAMES for part in Path(path).parts)


def folder_fingerprint(folder: Path, agent_version: str) -> tuple[str, str]:
    """(fingerprint, bundle hash) of a folder's content: the fingerprint also covers
    the agent version, since a new agent means new environments."""
    content = bundle_hash(folder, bundle_files(folder))
    return hashlib.sha256(f"{content}:{agent_version}".encode()).hexdigest(), content


@dataclass
class FolderRecord:
    """What one folder last registered (fingerprint empty: never registered)."""

    dag_id: str = ""
    fingerprint: str = ""
    bundle_hash: str = ""
    environment_hash: str = ""
    version_number: int = 0
    # Relative filename of the folder's current import error ("" when it compiles).
    error_file: str = ""


@dataclass
class WorkspaceIndex:
    path: Path
    folders: dict[str, FolderRecord] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> WorkspaceIndex:
        try:
            data = json.loads(path.read_text())
            folders = {name: FolderRecord(**{k: v for k, v in record.items() if k in FolderRecord.__dataclass_fields__})
                       for name, record in data.get("folders", {}).items()}
        except (OSError, ValueError, TypeError, AttributeError):
            folders = {}
        return cls(path, folders)

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"folders": {name: asdict(r) for name, r in sorted(self.folders.items())}}, indent=2))
        tmp.replace(self.path)

    def record(self, name: str) -> FolderRecord:
        return self.folders.setdefault(name, FolderRecord())

    def owners_of(self, dag_id: str, *, other_than: str) -> list[str]:
        """Other folders whose last good registration was `dag_id`."""
        return [name for name, record in sorted(self.folders.items())
                if name != other_than and record.dag_id == dag_id and record.fingerprint]
