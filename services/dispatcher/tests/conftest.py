"""Fixtures of the dispatcher tests: a dispatcher on a real gRPC port and the
in-process bus, a fake per-DAG virtualenv whose python runs the agent test double
(agent_test_double.py), and helpers to dispatch, watch events and call as an agent.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from leoflow_common.auth import TaskScope, TokenCodec
from leoflow_common.bus import (
    CANCEL_REQUESTED,
    DISPATCH_REQUESTED,
    InProcessBus,
    Subscriptions,
    decode_payload,
    make_envelope,
)
from leoflow_common.grpc import client_channel, static_token
from leoflow_common.settings import BusSettings, SecuritySettings, TelemetrySettings
from leoflow_common.states import TaskInstanceState
from leoflow_common.testing import assert_eventually
from leoflow_dispatcher import DispatcherApp, DispatcherSettings
from leoflow_dispatcher.naming import execution_name_of
from leoflow_proto.common.v1.keys_pb2 import TaskInstanceKey, TaskInstanceTryKey
from leoflow_proto.dag.v1.dag_pb2 import Argument, TaskSpec, Value, XComRef
from leoflow_proto.dag.v1.execution_pb2 import TaskExecution
from leoflow_proto.dispatcher.v1 import agent_pb2_grpc
from leoflow_proto.events.v1 import events_pb2

DOUBLE = Path(__file__).with_name("agent_test_double.py")
TENANT = "tenant-a"
ENVIRONMENT_HASH = "testenv0123"
# What the dispatcher's own environment holds that no task may see.
HOST_SECRETS = {"LEOFLOW_JWT_SECRET": "host-secret", "AWS_SECRET_ACCESS_KEY": "host-aws-secret"}


@dataclass
class Paths:
    venv_root: Path
    bundle: Path
    records: Path
    work_dir: Path


def make_fake_venv(venv_root: Path, environment_hash: str) -> Path:
    """A virtualenv whose bin/python runs the agent test double (instead of the
    real agent), with the interpreter of this test run."""
    bin_dir = venv_root / environment_hash / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{DOUBLE}" "$@"\n')
    python.chmod(0o755)
    return python


@pytest.fixture
def paths(tmp_path) -> Paths:
    result = Paths(
        venv_root=tmp_path / "venvs",
        bundle=tmp_path / "bundle",
        records=tmp_path / "records",
        work_dir=tmp_path / "work",
    )
    make_fake_venv(result.venv_root, ENVIRONMENT_HASH)
    result.bundle.mkdir()
    (result.bundle / "dag.py").write_text("# the DAG file\n")
    result.records.mkdir()
    return result


@dataclass
class Harness:
    """One test's dispatcher(s), bus and agent-side helpers."""

    TENANT = TENANT
    ENVIRONMENT_HASH = ENVIRONMENT_HASH
    HOST_SECRETS = HOST_SECRETS

    paths: Paths
    bus: InProcessBus
    jwt_secret: str
    agent_secret: str
    events: list[events_pb2.TaskInstanceStateChanged] = field(default_factory=list)
    envelope_ids: list[str] = field(default_factory=list)
    apps: list[DispatcherApp] = field(default_factory=list)

    @property
    def app(self) -> DispatcherApp:
        return self.apps[0]

    @property
    def codec(self) -> TokenCodec:
        return TokenCodec(self.jwt_secret, self.agent_secret)

    def settings(self, **overrides) -> DispatcherSettings:
        values = dict(
            grpc_bind="127.0.0.1:0",
            xcom_address="127.0.0.1:7001",
            logs_address="127.0.0.1:7002",
            # No scheduler in these tests: agents get no variables or connections
            # (test_metadata_task_secrets.py starts one where it matters).
            scheduler_address="",
            venv_root=self.paths.venv_root,
            work_dir=self.paths.work_dir,
            heartbeat_interval=1.0,
            heartbeat_timeout=20.0,
            startup_timeout=20.0,
            execution_timeout_grace=0.0,
            kill_grace=2.0,
            supervision_interval=0.05,
            finished_retention=600.0,
            security=SecuritySettings(
                jwt_secret=self.jwt_secret, agent_token_secret=self.agent_secret
            ),
            bus=BusSettings(url="memory://"),
            telemetry=TelemetrySettings(),
        )
        values.update(overrides)
        return DispatcherSettings(**values)

    async def start(self, **overrides) -> DispatcherApp:
        """Start a dispatcher on the shared bus (settings overridden by `overrides`)."""
        host_env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.paths.work_dir),
            **HOST_SECRETS,
        }
        app = DispatcherApp(self.settings(**overrides), bus=self.bus, host_env=host_env)
        await app.start()
        self.apps.append(app)
        return app

    def execution(
        self,
        task_id: str = "extract",
        *,
        mode: str = "succeed",
        try_number: int = 1,
        dispatch_attempt: int = 0,
        map_index: int = -1,
        execution_timeout: float | None = None,
        env: dict[str, str] | None = None,
        environment_hash: str = ENVIRONMENT_HASH,
        bundle_uri: str | None = None,
    ) -> TaskExecution:
        task = TaskSpec(
            task_id=task_id,
            env={"DOUBLE_MODE": mode, "DOUBLE_RECORD_DIR": str(self.paths.records), **(env or {})},
        )
        task.arguments.append(
            Argument(name="rows", value=Value(xcom=XComRef(task_id="source", key="return_value")))
        )
        if execution_timeout is not None:
            task.execution_timeout.CopyFrom(
                Duration(seconds=int(execution_timeout), nanos=int(execution_timeout % 1 * 1e9))
            )
        execution = TaskExecution(
            tenant_id=TENANT,
            key=TaskInstanceKey(
                dag_id="etl", run_id="manual__2026-01-01", task_id=task_id, map_index=map_index
            ),
            try_number=try_number,
            max_tries=3,
            dispatch_attempt=dispatch_attempt,
            task=task,
            dag_file="dag.py",
            upstream_task_ids=["source"],
        )
        execution.environment.environment_hash = environment_hash
        execution.environment.bundle_uri = (
            bundle_uri if bundle_uri is not None else self.paths.bundle.as_uri()
        )
        return execution

    async def dispatch(self, execution: TaskExecution) -> str:
        """Publish a dispatch request for `execution`; its execution name."""
        payload = events_pb2.DispatchRequested(execution=execution)
        await self.bus.publish(
            make_envelope(
                DISPATCH_REQUESTED, payload, tenant_id=execution.tenant_id, producer="test"
            )
        )
        return execution_name_of(execution)

    async def cancel(
        self, execution: TaskExecution, reason: str = "marked failed by a user"
    ) -> None:
        key = TaskInstanceTryKey(task_instance=execution.key, try_number=execution.try_number)
        payload = events_pb2.CancelRequested(key=key, reason=reason)
        await self.bus.publish(
            make_envelope(CANCEL_REQUESTED, payload, tenant_id=execution.tenant_id, producer="test")
        )

    def events_of(
        self, name: str, state: TaskInstanceState | None = None
    ) -> list[events_pb2.TaskInstanceStateChanged]:
        return [
            e
            for e in self.events
            if e.execution_name == name and (state is None or e.state == state.to_proto())
        ]

    async def wait_event(
        self, name: str, state: TaskInstanceState, within: float = 20.0
    ) -> events_pb2.TaskInstanceStateChanged:
        async def published():
            found = self.events_of(name, state)
            return found[0] if found else None

        return await assert_eventually(published, timeout=within, message=f"{name} -> {state}")

    def records(self) -> list[dict]:
        """What every test-double agent started so far wrote about itself."""
        return [json.loads(p.read_text()) for p in sorted(self.paths.records.glob("*.json"))]

    async def wait_record(self, predicate=lambda r: True, within: float = 20.0) -> dict:
        async def found():
            return next((r for r in self.records() if predicate(r)), None)

        return await assert_eventually(found, timeout=within, message="agent record")

    def token(self, execution: TaskExecution, *, name: str | None = None, **scope_overrides) -> str:
        """An agent token as the dispatcher would mint it for `execution` (fields overridable)."""
        key = execution.key
        scope = dict(
            dag_id=key.dag_id,
            run_id=key.run_id,
            task_id=key.task_id,
            map_index=key.map_index,
            try_number=execution.try_number,
            execution_name=name or execution_name_of(execution),
        )
        scope.update(scope_overrides)
        tenant = scope.pop("tenant_id", execution.tenant_id)
        return self.codec.mint_agent(tenant, TaskScope(**scope), ttl=600)

    def agent(
        self, token: str, app: DispatcherApp | None = None
    ) -> tuple[grpc.aio.Channel, agent_pb2_grpc.AgentServiceStub]:
        """A channel and AgentService stub calling as the bearer of `token`."""
        channel = client_channel(f"127.0.0.1:{(app or self.app).grpc_port}", static_token(token))
        return channel, agent_pb2_grpc.AgentServiceStub(channel)

    @staticmethod
    def pid_alive(pid: int) -> bool:
        return pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """True while `pid` runs (a zombie does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rfind(")") + 2] != "Z"


@pytest.fixture
async def harness(paths):
    bus = InProcessBus(namespace=f"dispatcher-test-{uuid.uuid4().hex[:8]}")
    await bus.start()
    result = Harness(
        paths=paths,
        bus=bus,
        jwt_secret=secrets.token_urlsafe(32),
        agent_secret=secrets.token_urlsafe(32),
    )

    async def collect(envelope):
        result.envelope_ids.append(envelope.id)
        result.events.append(decode_payload(envelope))

    await bus.subscribe(Subscriptions.SCHEDULER_TASK_EVENTS, collect)
    yield result
    for app in reversed(result.apps):
        await app.stop()
    await bus.close()
    # No test leaves an agent (or what it started) behind.
    for record in result.records():
        for pid in (record["pid"], record.get("child_pid")):
            if pid and pid_alive(pid):
                os.kill(pid, 9)
