"""How the local backend starts an agent (or a warm-start template): pure functions of the request.

`<venv python> -m leoflow_agent`, from the DAG's own virtualenv
(<venv_root>/<environment_hash>), in the DAG's bundle directory, with a clean
environment: a few harmless variables of the host (PATH, HOME, LANG, LC_ALL, TZ),
the task's own env, and the agent's three variables. Nothing else of the
dispatcher's environment (its secrets above all) reaches the task.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from ..base import LaunchFailed, LaunchRequest

AGENT_MODULE = "leoflow_agent"
PASSTHROUGH_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ")
# The benchmarks' trace switch (leoflow_common.spine_trace) reaches agents when set.
TRACE_ENV = "LEOFLOW_SPINE_TRACE"
ENV_DISPATCHER_ADDRESS = "LEOFLOW_AGENT_DISPATCHER_ADDRESS"
ENV_TOKEN = "LEOFLOW_AGENT_TOKEN"
ENV_BUNDLE_DIR = "LEOFLOW_AGENT_BUNDLE_DIR"
_ENVIRONMENT_HASH = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class LocalLaunchPlan:
    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str]
    # The virtualenv the agent runs from; None when it runs on the fallback python.
    venv: Path | None

    @property
    def python(self) -> Path:
        return Path(self.argv[0])


def plan_local_launch(
    request: LaunchRequest, *, venv_root: Path, fallback_python: str, host_env: Mapping[str, str]
) -> LocalLaunchPlan:
    """The command, directory and environment of `request`'s agent (LaunchFailed when
    the request cannot be run locally)."""
    environment = request.execution.environment
    venv = _venv_dir(environment.environment_hash, venv_root)
    python = venv / "bin" / "python" if venv else Path(fallback_python)
    bundle = bundle_directory(environment.bundle_uri)
    return LocalLaunchPlan(
        argv=(str(python), "-m", AGENT_MODULE),
        cwd=bundle,
        env=agent_environment(request, bundle=bundle, venv=venv, host_env=host_env),
        venv=venv,
    )


def _host_environment(venv: Path | None, host_env: Mapping[str, str]) -> dict[str, str]:
    """The harmless part of the host's environment, with the DAG's virtualenv on PATH."""
    env = {name: host_env[name] for name in (*PASSTHROUGH_ENV, TRACE_ENV) if host_env.get(name)}
    env.setdefault("LANG", "C.UTF-8")
    if venv is not None:
        env["VIRTUAL_ENV"] = str(venv)
        env["PATH"] = f"{venv / 'bin'}:{env['PATH']}" if env.get("PATH") else str(venv / "bin")
    return env


def agent_environment(
    request: LaunchRequest, *, bundle: Path, venv: Path | None, host_env: Mapping[str, str]
) -> dict[str, str]:
    """The agent's whole environment."""
    env = _host_environment(venv, host_env)
    for name, value in request.execution.task.env.items():
        if not _ENV_NAME.match(name) or "\x00" in value:
            raise LaunchFailed(f"task env has an invalid variable name or value: {name!r}")
        env[name] = value
    env["PYTHONUNBUFFERED"] = "1"
    env[ENV_DISPATCHER_ADDRESS] = request.dispatcher_address
    env[ENV_TOKEN] = request.agent_token
    env[ENV_BUNDLE_DIR] = str(bundle)
    return env


def plan_warm_template(
    request: LaunchRequest,
    cold: LocalLaunchPlan,
    *,
    host_env: Mapping[str, str],
    standbys: int,
    connect_ahead: tuple[str, ...],
    preimport: bool,
) -> LocalLaunchPlan:
    """The warm-start template (leoflow_agent.warm_start) for the environment of
    `request`, whose cold launch would be `cold`: the same python, directory and
    host variables, but nothing of any one try (no token, no task env: the agent
    gives each task its env itself, from the spec)."""
    env = _host_environment(cold.venv, host_env)
    env["PYTHONUNBUFFERED"] = "1"
    env[ENV_BUNDLE_DIR] = str(cold.cwd)
    env[ENV_DISPATCHER_ADDRESS] = request.dispatcher_address
    env["LEOFLOW_AGENT_WARM_STANDBYS"] = str(standbys)
    env["LEOFLOW_AGENT_WARM_CONNECT_AHEAD"] = ",".join(connect_ahead)
    if preimport and request.execution.dag_file:
        env["LEOFLOW_AGENT_WARM_DAG_FILE"] = request.execution.dag_file
    # -P: the bundle (the working directory) is not on sys.path while the agent imports.
    return LocalLaunchPlan(
        argv=(str(cold.python), "-P", "-m", AGENT_MODULE, "--warm"),
        cwd=cold.cwd,
        env=env,
        venv=cold.venv,
    )


def bundle_directory(bundle_uri: str) -> Path:
    """The local directory of a "file:///..." bundle URI."""
    if not bundle_uri:
        raise LaunchFailed(
            "the DAG version has no bundle_uri: the local backend needs the DAG folder (file:///...)"
        )
    parsed = urlparse(bundle_uri)
    if parsed.scheme != "file":
        raise LaunchFailed(f"the local backend runs file:// bundles only, not {bundle_uri!r}")
    if parsed.netloc not in ("", "localhost"):
        raise LaunchFailed(f"bundle {bundle_uri!r} is on another host ({parsed.netloc})")
    path = PurePosixPath(unquote(parsed.path))
    if not path.is_absolute() or ".." in path.parts:
        raise LaunchFailed(f"bundle {bundle_uri!r} is not an absolute path")
    return Path(path)


def _venv_dir(environment_hash: str, venv_root: Path) -> Path | None:
    if not environment_hash:
        return None
    # It names a directory: refuse anything that could point elsewhere.
    if not _ENVIRONMENT_HASH.match(environment_hash) or set(environment_hash) <= {"."}:
        raise LaunchFailed(f"invalid environment_hash {environment_hash!r}")
    return venv_root / environment_hash
