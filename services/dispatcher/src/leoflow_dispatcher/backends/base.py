"""The execution backend interface: how executions start, stop and end.

A backend does I/O only (processes, pods); every decision — whether to start,
what an exit means, when to kill — is the supervisor's. Contract:

- `launch` starts the named execution or raises LaunchFailed with a message a
  person can act on (the try then fails as an infrastructure failure);
- every execution a backend started or adopted ends with exactly one call of the
  exit handler given to `start`, whatever ended it (its own exit, `terminate`);
- names are deterministic (see naming.py), so `adopt` can find an execution that
  was started before a dispatcher restart;
- `stop` stops watching; the executions themselves keep running.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from leoflow_common.errors import LeoflowError
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution
from leoflow_proto.dispatcher.v1.agent_pb2 import RegisterResponse


class LaunchFailed(LeoflowError):
    """The execution could not be started (missing environment, bad bundle...)."""


@dataclass(frozen=True, slots=True)
class LaunchRequest:
    """Everything a backend needs to start one execution."""

    name: str
    execution: TaskExecution
    agent_token: str
    # The AgentService address of this replica, which the agent dials.
    dispatcher_address: str
    # What Register would answer the agent (xcom and logs addresses, heartbeat
    # interval): a backend that hands the agent its spec directly (the local warm
    # pool) hands this over too, and the agent skips Register and GetTaskSpec.
    registration: RegisterResponse | None = None


@dataclass(frozen=True, slots=True)
class ExitCause:
    """Why the platform ended an execution, when it knows more than an exit code
    (kubernetes: OOMKilled, evicted, image pull failure, deadline exceeded...).
    Whether it consumes a try depends on whether user code had started, which
    only the supervisor knows: hence a FailureKind for each case."""

    message: str
    kind_if_started: int  # states_pb2.FailureKind
    kind_if_not_started: int

    def kind(self, user_code_started: bool) -> int:
        return self.kind_if_started if user_code_started else self.kind_if_not_started


@dataclass(frozen=True, slots=True)
class ExecutionExit:
    """An execution's end. exit_code is None when it could not be known."""

    name: str
    exit_code: int | None
    # What it left behind to explain its end (e.g. the tail of its stderr).
    diagnostics: str = ""
    # The platform's reason for the end, if it has one (replaces the guess from the exit code).
    cause: ExitCause | None = None
    # Another replica launched this execution and hears its agent (kubernetes: the
    # pod already existed, labelled with that replica): end it here, publish nothing.
    supervised_elsewhere: bool = False


ExitHandler = Callable[[ExecutionExit], Awaitable[None]]


class ExecutionBackend(Protocol):
    #: "local", "kubernetes": labels metrics and logs.
    name: str

    async def start(self, on_exit: ExitHandler) -> None:
        """Begin watching; `on_exit` is called once per execution that ends."""

    async def stop(self) -> None:
        """Stop watching (pending kills finish first); executions keep running."""

    async def launch(self, request: LaunchRequest) -> None:
        """Start `request.name`; LaunchFailed when it cannot be started."""

    async def adopt(self, name: str) -> bool:
        """Watch `name` if it runs (started before a restart); True if it does."""

    async def terminate(self, name: str) -> None:
        """Stop `name` and everything it started: politely, then by force after a
        grace period. Returns at once; the end is reported through `on_exit`."""

    async def diagnostics(self, name: str) -> str:
        """What `name` left behind to explain its end ("" if nothing)."""

    async def release(self, name: str) -> None:
        """Forget `name` and remove what it left behind."""
