"""Fixtures for the scheduler's tests: DagSpec builders, and a running
SchedulerApp on a fresh PostgreSQL database with an in-process bus, plus a fake
dispatcher that records dispatch requests and reports state changes the way the
real dispatcher does (TaskInstanceStateChanged on the bus)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from datetime import timedelta

import asyncpg
import pytest
from google.protobuf import duration_pb2
from leoflow_common.auth import TokenCodec
from leoflow_common.bus import (
    TASK_INSTANCE_STATE_CHANGED,
    InProcessBus,
    Subscriptions,
    decode_payload,
    make_envelope,
)
from leoflow_common.grpc import client_channel, static_token
from leoflow_common.settings import BusSettings, SecuritySettings
from leoflow_common.states import TaskInstanceState
from leoflow_common.testing import assert_eventually
from leoflow_common.testing.pytest_plugin import PG_ADMIN_DSN, drop_database
from leoflow_proto.common.v1 import keys_pb2, states_pb2
from leoflow_proto.dag.v1 import dag_pb2
from leoflow_proto.events.v1 import events_pb2
from leoflow_proto.scheduler.v1 import (
    identity_pb2_grpc,
    registry_pb2,
    registry_pb2_grpc,
    runs_pb2,
    runs_pb2_grpc,
    task_instances_pb2,
    task_instances_pb2_grpc,
)
from leoflow_scheduler import migrations
from leoflow_scheduler.app import SchedulerApp
from leoflow_scheduler.settings import SchedulerSettings

JWT_SECRET = "scheduler-tests-jwt-secret-0123456789"
AGENT_SECRET = "scheduler-tests-agent-secret-0123456789"
CODEC = TokenCodec(JWT_SECRET, AGENT_SECRET)


def build_spec(
    dag_id: str = "example",
    edges: dict[str, Iterable[str]] | None = None,
    *,
    kinds: dict[str, int] | None = None,
    retries: dict[str, int] | None = None,
    retry_delay: timedelta | None = None,
    trigger_rules: dict[str, int] | None = None,
    **dag_fields,
) -> dag_pb2.DagSpec:
    """A valid DagSpec: `edges` maps each task id to its upstream ids (bash tasks
    unless `kinds` says otherwise)."""
    edges = {"only": []} if edges is None else edges
    spec = dag_pb2.DagSpec(schema_version="1", dag_id=dag_id, **dag_fields)
    spec.source.relative_fileloc = "dag.py"
    for task_id, upstream in edges.items():
        kind = (kinds or {}).get(task_id, dag_pb2.OPERATOR_KIND_BASH)
        task = spec.tasks.add(
            task_id=task_id,
            kind=kind,
            upstream_task_ids=list(upstream),
            operator_name="BashOperator",
        )
        task.retries = (retries or {}).get(task_id, 0)
        if retry_delay is not None:
            task.retry_delay.CopyFrom(
                duration_pb2.Duration(seconds=int(retry_delay.total_seconds()), nanos=0)
            )
        if trigger_rules and task_id in trigger_rules:
            task.trigger_rule = trigger_rules[task_id]
        if kind == dag_pb2.OPERATOR_KIND_BASH:
            task.bash.bash_command = f"echo {task_id}"
        elif kind in (
            dag_pb2.OPERATOR_KIND_PYTHON,
            dag_pb2.OPERATOR_KIND_BRANCH_PYTHON,
            dag_pb2.OPERATOR_KIND_SHORT_CIRCUIT,
        ):
            task.operator_name = "_PythonDecoratedOperator"
            task.python.module = "dag"
            task.python.qualname = task_id
        else:
            task.operator_name = "EmptyOperator"
    return spec


@pytest.fixture
def spec_builder():
    return build_spec


def scheduler_settings(dsn: str, **overrides) -> SchedulerSettings:
    values = dict(
        database_url=dsn,
        grpc_bind="127.0.0.1:0",
        leader_poll_interval=0.1,
        leader_watchdog_interval=0.3,
        outbox_sweep_interval=1.0,
        run_starter_interval=1.0,
        retry_timer_max_sleep=2.0,
        dags_are_paused_at_creation=False,
        security=SecuritySettings(jwt_secret=JWT_SECRET, agent_token_secret=AGENT_SECRET),
        bus=BusSettings(url="memory://"),
    )
    values.update(overrides)
    return SchedulerSettings(**values)


class Scheduler:
    """A started SchedulerApp with gRPC stubs (service token) and a fake dispatcher."""

    def __init__(self, app: SchedulerApp, bus: InProcessBus):
        self.app = app
        self.bus = bus
        self.dispatches: list = []
        self.dispatch_envelopes: list = []
        self.cancels: list = []
        self.cleared: list = []
        self.run_events: list = []
        self._channels = []
        self._consumers = []
        token = CODEC.mint_service("api-gateway")
        self.registry, self.runs, self.tis, self.identity = self.stubs(token)

    def stubs(self, token: str | None):
        channel = client_channel(
            f"127.0.0.1:{self.app.grpc_port}", static_token(token) if token else None
        )
        self._channels.append(channel)
        return (
            registry_pb2_grpc.DagRegistryServiceStub(channel),
            runs_pb2_grpc.DagRunServiceStub(channel),
            task_instances_pb2_grpc.TaskInstanceServiceStub(channel),
            identity_pb2_grpc.IdentityServiceStub(channel),
        )

    def as_user(self, username: str, tenant_id: str, roles: list[str]):
        """(registry, runs, task instances, identity) stubs calling as this user."""
        return self.stubs(CODEC.mint_user(username, tenant_id, roles))

    async def listen(self) -> None:
        """Act as the dispatcher, XCom and any observer of scheduler events."""

        async def record(target, raw=None):
            async def handler(envelope):
                target.append(decode_payload(envelope))
                if raw is not None:
                    raw.append(envelope)

            return handler

        self._consumers.append(
            await self.bus.subscribe(
                Subscriptions.DISPATCH_REQUESTS,
                await record(self.dispatches, self.dispatch_envelopes),
            )
        )
        self._consumers.append(
            await self.bus.subscribe(Subscriptions.DISPATCHER_CANCELS, await record(self.cancels))
        )
        self._consumers.append(
            await self.bus.subscribe(Subscriptions.XCOM_PURGE, await record(self.cleared))
        )

    async def close(self) -> None:
        for consumer in self._consumers:
            await consumer.cancel()
        for channel in self._channels:
            await channel.close()

    # -- conveniences ----------------------------------------------------------------

    async def register(self, spec: dag_pb2.DagSpec):
        return await self.registry.RegisterDagVersion(
            registry_pb2.RegisterDagVersionRequest(spec=spec)
        )

    async def trigger(self, dag_id: str, **fields) -> runs_pb2.DagRun:
        response = await self.runs.TriggerDagRun(
            runs_pb2.TriggerDagRunRequest(dag_id=dag_id, **fields)
        )
        return response.dag_run

    async def dispatched(
        self, task_id: str, *, try_number: int = 1, run_id: str | None = None, attempt: int = 0
    ):
        """Wait for the dispatch request of this try of `task_id` and return its execution."""

        async def find():
            for message in self.dispatches:
                ex = message.execution
                if (
                    ex.key.task_id == task_id
                    and ex.try_number == try_number
                    and ex.dispatch_attempt == attempt
                    and (run_id is None or ex.key.run_id == run_id)
                ):
                    return ex
            return None

        return await assert_eventually(find, message=f"dispatch of {task_id} try {try_number}")

    async def report(
        self, execution, state: int, *, envelope_id: str | None = None, **fields
    ) -> str:
        """Publish TaskInstanceStateChanged for `execution` like the dispatcher does."""
        event = events_pb2.TaskInstanceStateChanged(
            key=execution.key, try_number=execution.try_number, state=state, **fields
        )
        envelope = make_envelope(
            TASK_INSTANCE_STATE_CHANGED,
            event,
            tenant_id=execution.tenant_id,
            producer="dispatcher",
            envelope_id=envelope_id,
        )
        await self.bus.publish(envelope)
        return envelope.id

    async def processed(self, envelope_id: str) -> None:
        """Wait until the scheduler has handled this envelope (applied or ignored)."""

        async def handled():
            async with self.app.ctx.pool.acquire() as conn:
                return await conn.fetchval(
                    "SELECT 1 FROM inbox WHERE envelope_id = $1", envelope_id
                )

        await assert_eventually(handled, message=f"envelope {envelope_id} handled")

    async def start_running(self, execution) -> None:
        """Report the try running and wait until the scheduler applied it (the bus
        does not order messages, so a later report could overtake it)."""
        await self.report(
            execution, states_pb2.TASK_INSTANCE_STATE_RUNNING, hostname="worker-1", pid=42
        )

        async def applied():
            ti = await self.ti(execution.key.dag_id, execution.key.run_id, execution.key.task_id)
            return (
                ti.try_number == execution.try_number
                and ti.state == states_pb2.TASK_INSTANCE_STATE_RUNNING
            )

        await assert_eventually(applied, message=f"{execution.key.task_id} running")

    async def run_to_success(self, execution) -> None:
        await self.start_running(execution)
        await self.report(execution, states_pb2.TASK_INSTANCE_STATE_SUCCESS, exit_code=0)

    async def ti_states(self, dag_id: str, run_id: str) -> dict[str, TaskInstanceState]:
        response = await self.tis.ListTaskInstances(
            task_instances_pb2.ListTaskInstancesRequest(dag_id=dag_id, run_id=run_id)
        )
        return {
            ti.task_id: TaskInstanceState.from_proto(ti.state) for ti in response.task_instances
        }

    async def ti(self, dag_id: str, run_id: str, task_id: str):
        key = keys_pb2.TaskInstanceKey(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=-1)
        return (
            await self.tis.GetTaskInstance(task_instances_pb2.GetTaskInstanceRequest(key=key))
        ).task_instance

    async def run(self, dag_id: str, run_id: str) -> runs_pb2.DagRun:
        key = keys_pb2.DagRunKey(dag_id=dag_id, run_id=run_id)
        return (await self.runs.GetDagRun(runs_pb2.GetDagRunRequest(key=key))).dag_run

    async def wait_ti_state(
        self, dag_id: str, run_id: str, task_id: str, state: TaskInstanceState
    ) -> None:
        async def check():
            return (await self.ti_states(dag_id, run_id)).get(task_id) == state

        await assert_eventually(check, message=f"{task_id} -> {state}")

    async def wait_run_state(self, dag_id: str, run_id: str, state: int):
        async def check():
            run = await self.run(dag_id, run_id)
            return run if run.state == state else None

        return await assert_eventually(check, message=f"run {run_id} -> {state}")


async def start_scheduler(dsn: str, shared_bus, /, **overrides) -> Scheduler:
    """Start a SchedulerApp; with shared_bus=None the app creates (and owns) the
    bus its settings name, as a stand-alone process does."""
    app = SchedulerApp(scheduler_settings(dsn, **overrides), bus=shared_bus)
    await app.start()
    return Scheduler(app, app.bus)


@pytest.fixture
async def bus():
    bus = InProcessBus(namespace="test")
    await bus.start()
    yield bus
    await bus.close()


@pytest.fixture(scope="session")
async def migrated_template(pg_database):
    """A database migrated once per session, copied for each test (CREATE DATABASE
    ... TEMPLATE is much faster than migrating every time)."""
    await migrations.upgrade(pg_database)
    return pg_database.rpartition("/")[2]


@pytest.fixture
async def scheduler_database(migrated_template):
    """A fresh, migrated database for one test; yields its DSN."""
    name = f"leoflow_sched_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"')
    finally:
        await admin.close()
    yield f"{PG_ADMIN_DSN.rpartition('/')[0]}/{name}"
    await drop_database(name)


@pytest.fixture
async def make_scheduler(scheduler_database, bus):
    """Start schedulers on the test's database: `await make_scheduler(**settings)`.
    They share the bus (like replicas share a broker) and stop at the end."""
    started: list[Scheduler] = []

    async def make(
        *, listen: bool = True, lead: bool = True, own_bus: bool = False, **overrides
    ) -> Scheduler:
        sched = await start_scheduler(scheduler_database, None if own_bus else bus, **overrides)
        started.append(sched)
        if lead:
            await asyncio.wait_for(sched.app.wait_until_leader(), timeout=10)
        if listen:
            await sched.listen()
        return sched

    yield make
    for sched in reversed(started):
        await sched.close()
        await sched.app.stop()


@pytest.fixture
async def scheduler(make_scheduler):
    """A leading scheduler on a fresh database, with the fake dispatcher listening."""
    return await make_scheduler()
