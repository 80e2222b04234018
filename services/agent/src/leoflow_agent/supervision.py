"""Watching a running task: heartbeats, execution_timeout and stop requests.

A StopRequest is the one place a reason to stop the task is recorded; the first
reason wins (a timeout that fires after the control plane already asked us to stop
does not rewrite history). Sources: HeartbeatResponse.should_terminate and
ReportStateResponse.should_terminate (the try was cancelled or superseded), SIGTERM
or SIGINT to the agent (the pod or process is being shut down), and the task's
execution_timeout. Whatever the reason, the child's whole process group is stopped
and the task is reported FAILED with the reason as its error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import grpc
from leoflow_proto.common.v1 import states_pb2

from .child_process import ChildExit, ChildProcess

log = logging.getLogger("leoflow.agent")

DEFAULT_HEARTBEAT_INTERVAL = 10.0

Emit = Callable[[str, str], None]  # (level, message) to the task log's "agent" stream


@dataclass(frozen=True, slots=True)
class Termination:
    """Why the agent stopped the task."""

    message: str
    failure_kind: int = states_pb2.FAILURE_KIND_UNSPECIFIED


def timeout_termination(seconds: float) -> Termination:
    return Termination(
        f"AirflowTaskTimeout: Task exceeded its execution_timeout of {seconds:g}s; its processes were killed",
        states_pb2.FAILURE_KIND_TIMEOUT,
    )


# The control plane already decided this try's fate; the report is informational.
SHOULD_TERMINATE = Termination("AirflowTaskTerminated: The control plane asked the agent to terminate this try (cancelled or superseded)")


def signal_termination(name: str, *, user_code_started: bool) -> Termination:
    """SIGTERM/SIGINT to the agent: infrastructure before user code ran, a failed try after (Airflow)."""
    kind = states_pb2.FAILURE_KIND_USER_ERROR if user_code_started else states_pb2.FAILURE_KIND_INFRASTRUCTURE
    return Termination(f"AirflowTaskTerminated: The agent received {name} and stopped the task", kind)


class StopRequest:
    """The first recorded reason to stop the task, and an awaitable for it."""

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.termination: Termination | None = None

    def request(self, termination: Termination) -> None:
        if self.termination is None:
            self.termination = termination
            self._event.set()

    @property
    def requested(self) -> bool:
        return self.termination is not None

    async def wait(self) -> None:
        await self._event.wait()


async def heartbeat_loop(
    control_plane: object, interval: float, current_stop: StopRequest | Callable[[], StopRequest], emit: Emit
) -> None:
    """Heartbeat every `interval` s until cancelled; should_terminate -> stop request
    (on the StopRequest current at that moment, when given a callable: callbacks
    after a timeout get a new one).

    A failed heartbeat is logged and the task keeps running: the dispatcher decides
    when silence means the agent is lost.
    """
    while True:
        await asyncio.sleep(interval)
        try:
            response = await control_plane.heartbeat(deadline=interval)  # type: ignore[attr-defined]
        except grpc.aio.AioRpcError as exc:
            log.warning("heartbeat failed: %s: %s", exc.code().name, exc.details())
            continue
        except Exception:  # keep heartbeating: one odd failure must not silence the agent
            log.exception("heartbeat failed")
            continue
        stop = current_stop if isinstance(current_stop, StopRequest) else current_stop()
        if response.should_terminate and not stop.requested:
            emit("warning", "The control plane asked to terminate this try")
            stop.request(SHOULD_TERMINATE)


async def supervise(
    child: ChildProcess,
    stop: StopRequest,
    *,
    execution_timeout: float | None,
    kill_grace: float,
    emit: Emit,
    remaining: float | None = None,
) -> tuple[ChildExit, Termination | None]:
    """Wait for `child`, stopping its group on timeout or stop request.

    `remaining` is what is left of the execution_timeout when an earlier child of
    the same try used some of it (a bash task's template rendering), else the
    whole timeout. Returns how it exited and, if the agent stopped it, why (a
    child that finished on its own keeps its own outcome even if a stop request
    arrived meanwhile).
    """
    limit = execution_timeout if remaining is None else max(0.0, remaining)
    exited = asyncio.ensure_future(child.wait())
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({exited, stopped}, timeout=limit, return_when=asyncio.FIRST_COMPLETED)
        if not exited.done():
            if not stop.requested:
                assert execution_timeout is not None
                stop.request(timeout_termination(execution_timeout))
            assert stop.termination is not None
            emit("error", f"Stopping the task: {stop.termination.message}")
            await child.stop(kill_grace)
            return await exited, stop.termination
        return await exited, None
    finally:
        stopped.cancel()
