"""A DAG's own virtualenv, named by its environment hash and built once with uv
(`python -m venv` + pip where uv is missing).

Invariants:
- environment_hash = sha256(python version + sorted dependencies + agent version): two
  DAGs with the same inputs share a venv; a different pin gets a different one;
- a venv is usable only once its marker file exists, and the marker is written last, so
  an interrupted build is detected and rebuilt;
- one build per hash at a time (a file lock), so concurrent compiles never race.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import leoflow
from leoflow.compiler.errors import EXIT_BAD_INPUT, EXIT_FAILURE, CompileError

MARKER = ".leoflow-complete"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class AgentSource:
    """Where leoflow-agent and leoflow-proto come from: a source checkout (editable) or the index."""

    version: str
    checkout: Path | None

    def requirements(self) -> list[str]:
        if self.checkout is not None:
            return ["-e", str(self.checkout / "libs" / "proto"), "-e", str(self.checkout / "services" / "agent")]
        return [f"leoflow-proto=={self.version}", f"leoflow-agent=={self.version}"]


def agent_source() -> AgentSource:
    """The agent this CLI ships with; from a checkout, its version also hashes the agent's
    pyproject files, so changing the agent's own dependencies rebuilds the venvs."""
    version = importlib.metadata.version("leoflow-agent")
    root = Path(leoflow.__file__).resolve().parents[2]
    manifests = [root / "services" / "agent" / "pyproject.toml", root / "libs" / "proto" / "pyproject.toml"]
    if all(p.is_file() for p in manifests):
        digest = hashlib.sha256(b"".join(p.read_bytes() for p in manifests)).hexdigest()[:12]
        return AgentSource(f"{version}+src.{digest}", root)
    return AgentSource(version, None)


def environment_hash(python_version: str, dependencies: list[str], agent_version: str) -> str:
    payload = json.dumps(
        {"python_version": python_version, "dependencies": sorted(dependencies), "agent": agent_version},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode()).hexdigest()


def uv_binary() -> str | None:
    """uv (the Python package's binary, else PATH's), or None: then venv + pip."""
    if os.environ.get("LEOFLOW_NO_UV"):  # to exercise (and force) the fallback
        return None
    try:
        from uv import find_uv_bin

        return find_uv_bin()
    except (ImportError, FileNotFoundError):
        return shutil.which("uv")


def base_python(python_version: str) -> str:
    """An interpreter of `python_version` for `python -m venv` (the fallback without uv)."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == python_version:
        return sys.executable
    found = shutil.which(f"python{python_version}")
    if not found:
        raise CompileError(f"python_version: no Python {python_version} found on PATH (install it, or uv)",
                           "leoflow.yaml", exit_code=EXIT_BAD_INPUT)
    return found


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def prepare_venv(home: Path, python_version: str, dependencies: list[str], agent: AgentSource,
                 progress: Progress | None = None) -> tuple[Path, str]:
    """(venv directory, environment hash): reused when complete, else built with uv
    (or `python -m venv` + pip where uv is missing)."""
    say = progress or (lambda _message: None)
    env_hash = environment_hash(python_version, dependencies, agent.version)
    venvs = home / "venvs"
    venvs.mkdir(parents=True, exist_ok=True)
    venv = venvs / env_hash
    if (venv / MARKER).is_file():
        return venv, env_hash
    with open(venvs / f"{env_hash}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (venv / MARKER).is_file():
            return venv, env_hash
        if venv.exists():
            shutil.rmtree(venv)  # an interrupted build: start over
        uv = uv_binary()
        say(f"creating virtualenv (Python {python_version}) {venv}")
        if uv:
            _run([uv, "venv", "--quiet", "--python", python_version, str(venv)], f"Python {python_version}")
        else:
            _run([base_python(python_version), "-m", "venv", str(venv)], f"Python {python_version}")
        say(f"installing {len(dependencies)} dependencies and the Leoflow agent")
        packages = [*agent.requirements(), *dependencies]
        if uv:
            _run([uv, "pip", "install", "--quiet", "--python", str(venv_python(venv)), *packages], "dependencies")
        else:
            _run([str(venv_python(venv)), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *packages],
                 "dependencies")
        record = {"python_version": python_version, "dependencies": dependencies, "agent": agent.version}
        (venv / MARKER).write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return venv, env_hash


_BAD_INPUT_SIGNS = ("No solution found", "not found in the package registry", "No interpreter found",
                    "Failed to parse", "was not found in the", "Distribution not found",
                    # pip's words for the same (the fallback without uv)
                    "No matching distribution found", "Could not find a version", "Invalid requirement")


def _run(command: list[str], what: str) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode == 0:
        return
    lines = [line.strip() for line in (result.stderr or result.stdout).splitlines() if line.strip()]
    detail = " ".join(lines[:6])[:600] or f"exit status {result.returncode}"
    bad_input = any(sign in detail for sign in _BAD_INPUT_SIGNS)
    raise CompileError(
        f"could not install {what}: {detail}",
        "leoflow.yaml" if bad_input else "",
        exit_code=EXIT_BAD_INPUT if bad_input else EXIT_FAILURE,
    )
