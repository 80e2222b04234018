"""What the agent is asked to run, and how patient it is.

An Assignment is "which task-instance try, and how to reach the control plane". A
cold agent reads it from its environment (`assignment_from_env`); a standby agent of
a warm pool receives it as a frame on a pipe (standby.py). Reading it is kept apart
from running it: run.py only ever sees an Assignment.

Environment (read once, in __main__):
    LEOFLOW_AGENT_DISPATCHER_ADDRESS      host:port of the dispatcher (required)
    LEOFLOW_AGENT_TOKEN                   the per-try agent token (required)
    LEOFLOW_AGENT_BUNDLE_DIR              the DAG folder's immutable copy (required)
    LEOFLOW_AGENT_CONNECT_TIMEOUT_SECONDS how long to keep trying to reach the
                                          dispatcher before giving up (default 60)
    LEOFLOW_AGENT_KILL_GRACE_SECONDS      SIGTERM-to-SIGKILL grace when the agent
                                          stops a task (default 5)
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigurationError(ValueError):
    """The agent was started without what it needs (exit code 2)."""


@dataclass(frozen=True, slots=True)
class Assignment:
    """One task-instance try to run: where the dispatcher is, the token, the bundle."""

    dispatcher_address: str
    token: str = field(repr=False)
    bundle_dir: Path
    # Handed over by the dispatcher with a warm assignment (both or neither): the
    # TaskExecution GetTaskSpec would return and the RegisterResponse Register
    # would; the agent then skips those two calls.
    execution: Any = field(default=None, repr=False)
    registration: Any = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class AgentOptions:
    """Timeouts and identity; defaults suit production."""

    connect_timeout: float = 60.0
    # A terminal state is what the control plane waits for: keep trying for a while.
    report_timeout: float = 120.0
    call_timeout: float = 30.0
    kill_grace: float = 5.0
    logs_close_timeout: float = 15.0
    hostname: str = field(default_factory=socket.gethostname)
    pid: int = field(default_factory=os.getpid)


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"{name} is not set")
    return value


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise ConfigurationError(f"{name} must be positive, got {raw!r}")
    return value


def assignment_from_env(environ: Mapping[str, str]) -> Assignment:
    """The Assignment the dispatcher put in this process's environment."""
    bundle_dir = Path(_required(environ, "LEOFLOW_AGENT_BUNDLE_DIR"))
    if not bundle_dir.is_dir():
        raise ConfigurationError(f"LEOFLOW_AGENT_BUNDLE_DIR {str(bundle_dir)!r} is not a directory")
    return Assignment(
        dispatcher_address=_required(environ, "LEOFLOW_AGENT_DISPATCHER_ADDRESS"),
        token=_required(environ, "LEOFLOW_AGENT_TOKEN"),
        bundle_dir=bundle_dir.resolve(),
    )


def options_from_env(environ: Mapping[str, str]) -> AgentOptions:
    """AgentOptions with the environment's overrides."""
    return AgentOptions(
        connect_timeout=_seconds(environ, "LEOFLOW_AGENT_CONNECT_TIMEOUT_SECONDS", 60.0),
        kill_grace=_seconds(environ, "LEOFLOW_AGENT_KILL_GRACE_SECONDS", 5.0),
    )
