"""The files of Lite's DAG workspace, as the /ide editor may see and change them.

Invariant: every path is confined to the workspace. A path given by a client is
relative, made of plain names (no absolute path, no "..", no NUL or backslash, no
empty or "." segment games), and it must still be inside the workspace once every
symlink on it is resolved — so a symlink pointing out of the workspace can be
neither read, written, listed, renamed nor deleted through the editor. Writes go to
a temporary file in the same directory, then replace the target (an atomic save:
the hot-reload watcher never sees a half-written file).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

# Never shown in the tree (build debris, version control, virtualenvs).
HIDDEN_NAMES = frozenset({".git", "__pycache__", ".venv", "venv", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".DS_Store"})
MAX_FILE_BYTES = 1024 * 1024
MAX_TREE_ENTRIES = 5000
MAX_PATH_LENGTH = 1024


class WorkspacePathError(ValueError):
    """A path the editor may not use (message says why; HTTP 400)."""


class EntryNotFound(LookupError):
    """No such file or folder (HTTP 404)."""


class EntryExists(FileExistsError):
    """The target exists already (HTTP 409)."""


class NotEditable(ValueError):
    """Not a text file the editor can open (HTTP 415), or too large (HTTP 413)."""

    def __init__(self, message: str, status: int = 415):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Workspace:
    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(os.path.realpath(self.root)))

    # -- confinement ------------------------------------------------------------------

    def resolve(self, relative: str, *, allow_root: bool = False) -> Path:
        """The absolute path of `relative`, confined to the workspace (see module doc)."""
        if not isinstance(relative, str):
            raise WorkspacePathError("path must be a string")
        if len(relative) > MAX_PATH_LENGTH:
            raise WorkspacePathError(f"path is longer than {MAX_PATH_LENGTH} characters")
        if "\x00" in relative or "\\" in relative:
            raise WorkspacePathError("path must not contain NUL or backslashes")
        if relative.startswith("/") or relative.startswith("~") or (len(relative) > 1 and relative[1] == ":"):
            raise WorkspacePathError("path must be relative to the workspace")
        parts = [part for part in relative.split("/") if part not in ("", ".")]
        if any(part == ".." for part in parts):
            raise WorkspacePathError("path must not contain '..'")
        if not parts and not allow_root:
            raise WorkspacePathError("path is required")
        target = self.root.joinpath(*parts)
        real = Path(os.path.realpath(target))
        if real != self.root and self.root not in real.parents:
            raise WorkspacePathError("path leaves the workspace (through a symlink)")
        return target

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    # -- reading ------------------------------------------------------------------------

    def tree(self) -> list[dict]:
        """Every folder and file (sorted by path), hidden names
        and symlinks leaving the workspace left out; at most MAX_TREE_ENTRIES."""
        entries: list[dict] = []
        for directory, dirs, files in os.walk(self.root, followlinks=False):
            base = Path(directory)
            dirs[:] = sorted(d for d in dirs if d not in HIDDEN_NAMES and self._inside(base / d))
            for name in dirs:
                entries.append({"path": self.relative(base / name), "type": "dir"})
            for name in sorted(files):
                path = base / name
                if name in HIDDEN_NAMES or name.endswith((".pyc", ".pyo")) or not self._inside(path):
                    continue
                try:
                    size = path.stat().st_size
                except OSError:
                    continue
                entries.append({"path": self.relative(path), "type": "file", "size": size})
            if len(entries) >= MAX_TREE_ENTRIES:
                break
        entries.sort(key=lambda e: e["path"])
        return entries[:MAX_TREE_ENTRIES]

    def _inside(self, path: Path) -> bool:
        real = Path(os.path.realpath(path))
        return real == self.root or self.root in real.parents

    def read(self, relative: str) -> tuple[str, int]:
        """(text, mtime_ns) of a UTF-8 text file."""
        path = self.resolve(relative)
        if not path.is_file():
            raise EntryNotFound(f"no file {relative!r} in the workspace")
        stat = path.stat()
        if stat.st_size > MAX_FILE_BYTES:
            raise NotEditable(f"{relative} is larger than {MAX_FILE_BYTES} bytes", 413)
        data = path.read_bytes()
        if b"\x00" in data:
            raise NotEditable(f"{relative} is not a text file")
        try:
            return data.decode("utf-8"), stat.st_mtime_ns
        except UnicodeDecodeError:
            raise NotEditable(f"{relative} is not UTF-8 text") from None

    # -- changing ---------------------------------------------------------------------

    def write(self, relative: str, content: str, *, expected_mtime_ns: int | None = None) -> int:
        """Save `content` (creating the file and its folders); the new mtime_ns.
        With `expected_mtime_ns`, refuse (EntryExists) if the file changed since."""
        data = content.encode("utf-8")
        if len(data) > MAX_FILE_BYTES:
            raise NotEditable(f"content is larger than {MAX_FILE_BYTES} bytes", 413)
        path = self.resolve(relative)
        if path.is_dir():
            raise EntryExists(f"{relative} is a folder")
        if expected_mtime_ns is not None and path.exists() and path.stat().st_mtime_ns != expected_mtime_ns:
            raise EntryExists(f"{relative} changed on disk since it was opened; reload it first")
        path.parent.mkdir(parents=True, exist_ok=True)
        self.resolve(relative)  # the folders just created must not lead out either
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path.stat().st_mtime_ns

    def create(self, relative: str, kind: str) -> None:
        """A new empty file or folder; EntryExists if the name is taken."""
        path = self.resolve(relative)
        if path.exists() or path.is_symlink():
            raise EntryExists(f"{relative} exists already")
        if kind == "dir":
            path.mkdir(parents=True)
        elif kind == "file":
            path.parent.mkdir(parents=True, exist_ok=True)
            self.resolve(relative)
            with open(path, "x", encoding="utf-8"):
                pass
        else:
            raise WorkspacePathError("type must be 'file' or 'dir'")

    def rename(self, source: str, target: str) -> None:
        """Move a file or folder within the workspace; EntryExists if the target is taken."""
        src, dst = self.resolve(source), self.resolve(target)
        if not src.exists():
            raise EntryNotFound(f"no file or folder {source!r} in the workspace")
        if dst.exists() or dst.is_symlink():
            raise EntryExists(f"{target} exists already")
        if src.is_dir() and (dst == src or src in dst.parents):
            raise WorkspacePathError("a folder cannot be moved into itself")
        dst.parent.mkdir(parents=True, exist_ok=True)
        self.resolve(target)
        os.rename(src, dst)

    def delete(self, relative: str) -> None:
        """Delete a file, or a folder with everything in it."""
        path = self.resolve(relative)
        if path.is_symlink():
            path.unlink()  # a link inside the workspace (its target is untouched)
        elif path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
        else:
            raise EntryNotFound(f"no file or folder {relative!r} in the workspace")
