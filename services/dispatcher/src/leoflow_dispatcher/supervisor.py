"""The one door to this replica's executions: every change of one goes through here.

Invariants it keeps:
- one execution per name: a request whose execution is known, or which the
  backend finds running (started before a restart), starts nothing;
- each execution publishes each state at most once and exactly one terminal
  state (or none once cancelled), in order, through its outbox; an event is
  recorded in the journal before it is published, so a crash loses none;
- an agent is only ever answered about the execution its token names, and only
  if that execution runs the task-instance try the token is scoped to.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from leoflow_common.auth import Principal, TokenCodec, require_task
from leoflow_common.bus import Bus
from leoflow_common.errors import PermissionDenied, Unavailable
from leoflow_common.states import TaskInstanceState
from leoflow_proto.common.v1 import states_pb2
from leoflow_proto.common.v1.keys_pb2 import TaskInstanceTryKey
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution
from leoflow_proto.dispatcher.v1.agent_pb2 import (
    GetTaskSecretsResponse,
    RegisterResponse,
    ReportStateRequest,
)

from . import metrics
from .backends import ExecutionBackend, ExecutionExit, LaunchFailed, LaunchRequest
from .capacity import Capacity
from .events import event_from_failure, event_from_report, wrap
from .execution import Execution
from .journal import Journal
from .lifecycle import (
    Failure,
    Limits,
    ReportVerdict,
    clip_message,
    failure_kind_for_report,
    failure_on_exit,
    judge_report,
    parse_reported_state,
)
from .naming import execution_name_of
from .scope import agent_token_ttl, mint_agent_token
from .secrets_prefetch import SecretsPrefetch

log = logging.getLogger(__name__)
TI = TaskInstanceState


class Supervisor:
    def __init__(
        self,
        *,
        backend: ExecutionBackend,
        bus: Bus,
        journal: Journal,
        codec: TokenCodec,
        limits: Limits,
        capacity: Capacity,
        token_ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._backend = backend
        self._bus = bus
        self._journal = journal
        self._codec = codec
        self.limits = limits
        self._capacity = capacity
        self._token_ttl = token_ttl
        self.now = clock
        self._executions: dict[str, Execution] = {}
        self._publishing: dict[str, asyncio.Lock] = {}
        self._background: set[asyncio.Task] = set()  # publications nobody waits for
        # What agents dial: this replica's AgentService (set once it is bound).
        self.dispatcher_address = ""
        # What Register answers for an execution (set with the AgentService): a
        # backend that hands an agent its spec hands this over with it.
        self.preregistration: Callable[[Execution], RegisterResponse] | None = None
        # Asks the scheduler for a tenant's variables and connections (set with the
        # AgentService): asked at dispatch, the answer is ready when the agent asks.
        self.fetch_secrets: Callable[[str], Awaitable[GetTaskSecretsResponse]] | None = None

    def executions(self) -> list[Execution]:
        """A snapshot of every execution this replica knows."""
        return list(self._executions.values())

    def get(self, name: str) -> Execution | None:
        return self._executions.get(name)

    # -- dispatch ------------------------------------------------------------------

    async def dispatch(self, spec: TaskExecution) -> None:
        """Start the execution `spec` asks for, unless it is known or running already."""
        name = execution_name_of(spec)
        if name in self._executions:
            metrics.DUPLICATE_REQUESTS.inc()
            log.info("%s is already known: redelivered request ignored", name)
            return
        await self._capacity.acquire(name)
        if name in self._executions:  # a copy of the request won the race for a slot
            metrics.DUPLICATE_REQUESTS.inc()
            await self._capacity.release(name)
            return
        execution = Execution(name=name, spec=spec, launched_at=self.now())
        self._executions[name] = execution
        if await self._backend.adopt(name):
            metrics.DUPLICATE_REQUESTS.inc()
            log.info("%s is already running: adopted, not started again", name)
            self._journal.save(execution)
            return
        self._journal.save(execution)
        ttl = agent_token_ttl(
            spec,
            minimum=self._token_ttl,
            startup=self.limits.startup_timeout,
            grace=self.limits.execution_timeout_grace,
        )
        token = mint_agent_token(self._codec, spec, name, ttl=ttl)
        if self.fetch_secrets is not None:
            execution.secrets = SecretsPrefetch(execution.tenant_id, self.fetch_secrets(execution.tenant_id))
        started = time.perf_counter()
        try:
            registration = self.preregistration(execution) if self.preregistration else None
            await self._backend.launch(LaunchRequest(name, spec, token, self.dispatcher_address, registration))
        except LaunchFailed as exc:
            await self._not_started(execution, exc.message)
            return
        except Exception as exc:  # noqa: BLE001 - any launch trouble fails the try, not the consumer
            log.exception("launching %s failed", name)
            await self._not_started(execution, f"internal error while starting it: {exc}")
            return
        metrics.LAUNCH_DURATION.observe(time.perf_counter() - started)
        metrics.EXECUTIONS_STARTED.labels(self._backend.name).inc()

    async def _not_started(self, execution: Execution, reason: str) -> None:
        metrics.LAUNCH_FAILURES.inc()
        log.warning("%s could not be started: %s", execution.name, reason)
        execution.mark_exited(self.now())
        await self._capacity.release(execution.name)
        await self.fail(
            execution,
            Failure(states_pb2.FAILURE_KIND_INFRASTRUCTURE, f"could not start the task: {reason}"),
        )

    # -- agents --------------------------------------------------------------------

    def authorize(self, principal: Principal | None) -> Execution:
        """The execution the caller's agent token is for; PermissionDenied unless
        this replica runs it and it runs the try the token is scoped to."""
        scope = require_task(principal)
        assert principal is not None
        execution = self._executions.get(scope.execution_name)
        if execution is None or not execution.matches(
            tenant_id=principal.tenant_id,
            dag_id=scope.dag_id,
            run_id=scope.run_id,
            task_id=scope.task_id,
            map_index=scope.map_index,
            try_number=scope.try_number,
        ):
            raise PermissionDenied("this agent token is not for an execution this dispatcher runs")
        execution.last_contact_at = self.now()
        return execution

    def register_agent(
        self, execution: Execution, *, hostname: str, pid: int, agent_version: str
    ) -> None:
        """Remember who runs `execution` (for events and diagnostics)."""
        execution.hostname = hostname[:255]
        execution.pid = pid
        execution.agent_version = agent_version[:64]

    @staticmethod
    def should_terminate(execution: Execution) -> bool:
        """The agent must stop: the try was cancelled or ended without it."""
        return execution.cancelled or (
            execution.outcome is not None and execution.outcome not in execution.reported
        )

    async def report(self, execution: Execution, request: ReportStateRequest) -> bool:
        """Apply the agent's report and publish it; False when the try was cancelled
        (nothing is published). Unavailable when the bus did not take the event
        (the agent retries; the retry is idempotent). RUNNING is answered once it is
        in the journal and published meanwhile: user code waits for this answer, and
        the journal, not the broker's confirm, is what keeps the event (a refused
        publication stays in the outbox for the next pass)."""
        state = parse_reported_state(request.state)
        if not execution.pid and request.pid:
            # An agent handed its registration ahead never calls Register: its
            # first report says who runs the execution.
            self.register_agent(execution, hostname=request.hostname, pid=request.pid, agent_version="")
        if execution.cancelled:
            return False
        if judge_report(execution, state) is ReportVerdict.ACCEPT:
            kind = failure_kind_for_report(execution, state, request.failure_kind)
            event = event_from_report(execution, state, request, kind)
            execution.reported.append(state)
            if state is TI.RUNNING:
                execution.running_since = self.now()
                execution.running_since_epoch = time.time()
                metrics.COLD_START.observe(execution.running_since - execution.launched_at)
            else:
                execution.end(state, self.now())
            execution.outbox.append(wrap(execution, event))
            self._journal.save(execution)
            log.info("%s reported %s", execution.name, state)
        if state is TI.RUNNING:
            flush = asyncio.create_task(self.flush_quietly(execution), name=f"flush:{execution.name}")
            self._background.add(flush)
            flush.add_done_callback(self._background.discard)
            return True
        await self.flush(execution)
        return True

    # -- supervision ---------------------------------------------------------------

    async def on_exit(self, exit: ExecutionExit) -> None:
        """An execution's process or pod is gone: fail the try if it had not ended."""
        execution = self._executions.get(exit.name)
        if execution is None:
            return
        await self._capacity.release(exit.name)
        if exit.supervised_elsewhere:
            # Another replica launched it and hears its agent: publish nothing here.
            execution.cancel(self.now())
            self._journal.save(execution)
        failure = failure_on_exit(execution, exit.exit_code, exit.diagnostics)
        if failure is not None and exit.cause is not None:
            # The platform knows why it ended (OOMKilled, evicted, image pull...).
            failure = Failure(
                kind=exit.cause.kind(execution.user_code_started),
                message=clip_message(exit.cause.message),
                exit_code=exit.exit_code or 0,
            )
        execution.mark_exited(self.now())
        if failure is not None:
            await self.fail(execution, failure)

    async def fail(self, execution: Execution, failure: Failure, *, stop: bool = False) -> None:
        """End the try as FAILED on the agent's behalf (stopping it first if `stop`)."""
        execution.end(TI.FAILED, self.now())
        execution.outbox.append(wrap(execution, event_from_failure(execution, failure)))
        metrics.SUPERVISION_FAILURES.labels(
            states_pb2.FailureKind.Name(failure.kind).removeprefix("FAILURE_KIND_").lower()
        ).inc()
        self._journal.save(execution)
        log.warning("%s failed: %s", execution.name, failure.message)
        if stop:
            await self.stop_execution(execution)
        await self.flush_quietly(execution)

    async def stop_execution(self, execution: Execution) -> None:
        """Stop a process or pod that should not run any more (publishes nothing)."""
        if execution.alive and not execution.stop_requested:
            execution.stop_requested = True
            await self._backend.terminate(execution.name)

    async def cancel(self, tenant_id: str, key: TaskInstanceTryKey, reason: str) -> int:
        """Stop the executions of that try this replica runs; how many there were."""
        ti = key.task_instance
        matching = [
            execution
            for execution in self._executions.values()
            if execution.matches(
                tenant_id=tenant_id,
                dag_id=ti.dag_id,
                run_id=ti.run_id,
                task_id=ti.task_id,
                map_index=ti.map_index,
                try_number=key.try_number,
            )
        ]
        for execution in matching:
            if not execution.ended:
                execution.cancel(self.now())
                self._journal.save(execution)
                metrics.CANCELS.inc()
                log.info("%s cancelled: %s", execution.name, reason or "no reason given")
            await self.stop_execution(execution)
        return len(matching)

    # -- publishing ----------------------------------------------------------------

    async def flush(self, execution: Execution) -> None:
        """Publish `execution`'s outbox in order; Unavailable if the bus refused."""
        lock = self._publishing.setdefault(execution.name, asyncio.Lock())
        async with lock:
            while execution.outbox:
                envelope = execution.outbox[0]
                try:
                    await self._bus.publish(envelope)
                except Exception as exc:  # noqa: BLE001 - kept in the outbox, retried
                    metrics.PUBLISH_FAILURES.inc()
                    log.warning("could not publish %s: %s", envelope.id, exc)
                    raise Unavailable("the state change could not be published yet; retry") from exc
                execution.outbox.pop(0)
                self._journal.save(execution)
                metrics.STATES_PUBLISHED.labels(envelope.id.rpartition("/")[2]).inc()

    async def flush_quietly(self, execution: Execution) -> bool:
        """flush(), leaving what the bus refused for the next pass; True if all went out."""
        try:
            await self.flush(execution)
        except Unavailable:
            return False
        return True

    # -- memory --------------------------------------------------------------------

    async def forget(self, execution: Execution) -> None:
        """Drop a finished execution and what it left behind."""
        if execution.secrets is not None:
            execution.secrets.cancel()
            execution.secrets = None
        self._executions.pop(execution.name, None)
        self._publishing.pop(execution.name, None)
        self._journal.remove(execution.name)
        await self._backend.release(execution.name)

    async def recover(self) -> None:
        """Reload the executions this replica remembers: adopt those still running,
        fail those that ended unreported while the dispatcher was away."""
        for execution in self._journal.load_all(self.now()):
            self._executions[execution.name] = execution
            if await self._backend.adopt(execution.name):
                self._capacity.take(execution.name)
                log.info("recovered running execution %s", execution.name)
                continue
            diagnostics = await self._backend.diagnostics(execution.name)
            failure = failure_on_exit(execution, None, diagnostics)
            execution.mark_exited(self.now())
            if failure is not None:
                await self.fail(execution, failure)
            else:
                await self.flush_quietly(execution)

    async def shutdown(self, *, stop_executions: bool) -> None:
        """Before the dispatcher stops: stop its executions (failing their tries as
        infrastructure failures) or leave them running for a restart to adopt."""
        if not stop_executions:
            return
        for execution in self.executions():
            if execution.alive and not execution.ended:
                failure = Failure(
                    states_pb2.FAILURE_KIND_INFRASTRUCTURE,
                    "the dispatcher running this task shut down",
                )
                await self.fail(execution, failure, stop=True)
            else:
                await self.stop_execution(execution)
