"""Everything one task execution shares: its spec, clients, log, stop request.

`TaskRun` is handed to the operator-kind modules (python_task, bash_task). It owns
the task log's line sink, the RUNNING report (the moment the control plane learns
that user code starts), the child's environment and supervision, so each kind only
says what to start and how to read the result.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.dispatcher.v1 import agent_pb2

from .assignment import AgentOptions
from .child_process import ChildExit, ChildProcess
from .context import airflow_ctx_env
from .log_shipper import LogShipper
from .outcome import exit_status
from .supervision import SHOULD_TERMINATE, StopRequest, Termination, supervise

log = logging.getLogger("leoflow.agent")

# The agent's own settings and its token never reach user code.
_PRIVATE_ENV_PREFIX = "LEOFLOW_AGENT_"


@dataclass
class TaskRun:
    """One task-instance try being executed by this agent."""

    execution: Any  # leoflow.dag.v1.TaskExecution
    bundle_dir: Path
    options: AgentOptions
    control_plane: Any  # control_plane.ControlPlane
    shipper: LogShipper
    stop: StopRequest
    context: dict[str, Any]  # context.context_document(execution)
    base_env: Mapping[str, str]
    user_code_started: bool = False
    # The last stdout line, reassembled if it arrived in pieces (BashOperator's XCom).
    last_stdout_line: str = ""
    _stdout_line_open: bool = False
    rendered_fields: dict[str, Any] = field(default_factory=dict)
    rendered_map_index: str = ""
    # Length of the output a downstream maps over, by XCom key (report_output_length).
    mapped_lengths: dict[str, int] = field(default_factory=dict)
    # When the execution_timeout runs out (monotonic), set once user code starts.
    deadline: float | None = None
    # The last runner's reply frame (a failure callback rebuilds the exception from it).
    last_reply: dict[str, Any] | None = None
    # The call's arguments, asked for ahead by run.py (python_task.resolve_call takes them).
    arguments: asyncio.Future | None = None
    # The RUNNING report run.py sent ahead (report_running awaits its answer).
    running: asyncio.Future | None = None

    @property
    def spec(self) -> Any:
        return self.execution.task

    @property
    def execution_timeout(self) -> float | None:
        if not self.spec.HasField("execution_timeout"):
            return None
        seconds = self.spec.execution_timeout.ToTimedelta().total_seconds()
        return seconds if seconds > 0 else None

    @property
    def remaining_timeout(self) -> float | None:
        """What is left of the execution_timeout (None: no timeout)."""
        if self.deadline is None:
            return self.execution_timeout
        return max(0.0, self.deadline - time.monotonic())

    def absorb_reply(self, reply: dict[str, Any] | None) -> None:
        """Keep what a runner rendered (fields, map index), whatever the outcome."""
        self.last_reply = reply
        if not reply:
            return
        if isinstance(reply.get("rendered_fields"), dict):
            self.rendered_fields = reply["rendered_fields"]
        if isinstance(reply.get("rendered_map_index"), str):
            self.rendered_map_index = reply["rendered_map_index"]

    def on_line(self, stream: str, text: str, complete: bool = True) -> None:
        """A line (or piece of one) of the child's stdout or stderr: into the task log."""
        self.shipper.emit(stream, "info" if stream == "stdout" else "error", text)
        if stream == "stdout":
            self.last_stdout_line = self.last_stdout_line + text if self._stdout_line_open else text
            self._stdout_line_open = not complete

    def forget_stdout(self) -> None:
        """Start the "last stdout line" afresh (before the command whose XCom it is)."""
        self.last_stdout_line = ""
        self._stdout_line_open = False

    def log_exit(self, returncode: int) -> None:
        code, how = exit_status(returncode)
        if returncode >= 0:
            self.agent_log("info", f"Task exited with return code {code}")
        else:
            self.agent_log("error", f"Task process {how}")

    def agent_log(self, level: str, message: str) -> None:
        """A line from the agent itself into the task log ("agent" stream)."""
        self.shipper.emit("agent", level, message, logger="leoflow.agent")

    def system_env(self) -> dict[str, str]:
        """The environment of the task's "machine": the agent's own, without its
        private settings, plus the task's env from leoflow.yaml."""
        env = {name: value for name, value in self.base_env.items() if not name.startswith(_PRIVATE_ENV_PREFIX)}
        env.update(self.spec.env)
        return env

    def airflow_ctx_env(self) -> dict[str, str]:
        return airflow_ctx_env(self.context)

    async def report_running(self) -> Termination | None:
        """Tell the control plane user code starts now; a Termination if it must not."""
        if self.stop.termination is not None:
            return self.stop.termination
        ahead, self.running = self.running, None
        if ahead is None:
            request = agent_pb2.ReportStateRequest(
                state=states_pb2.TASK_INSTANCE_STATE_RUNNING, hostname=self.options.hostname, pid=self.options.pid
            )
            request.occurred_at.GetCurrentTime()
            ahead = self.control_plane.report_state(request, budget=self.options.call_timeout)
        try:
            response = await ahead
        except grpc.aio.AioRpcError as exc:
            return Termination(
                f"ReportStateFailed: could not report RUNNING ({exc.code().name}: {exc.details()})",
                states_pb2.FAILURE_KIND_INFRASTRUCTURE,
            )
        if response.should_terminate:
            self.stop.request(SHOULD_TERMINATE)
            return SHOULD_TERMINATE
        self.user_code_started = True
        if self.execution_timeout is not None:
            self.deadline = time.monotonic() + self.execution_timeout
        return None

    async def supervise(self, child: ChildProcess, *, timed: bool = True) -> tuple[ChildExit, Termination | None]:
        """Wait for `child`; `timed` children share the try's execution_timeout."""
        return await supervise(
            child,
            self.stop,
            execution_timeout=self.execution_timeout if timed else None,
            remaining=self.remaining_timeout if timed and self.execution_timeout is not None else None,
            kill_grace=self.options.kill_grace,
            emit=self.agent_log,
        )
