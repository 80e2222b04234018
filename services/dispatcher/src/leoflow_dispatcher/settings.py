"""The dispatcher's typed settings (prefix LEOFLOW_DISPATCHER_), read once in
__main__ and passed down. Durations are seconds."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from leoflow_common.settings import BusSettings, SecuritySettings, TelemetrySettings
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from .backends.kubernetes.settings import KubernetesSettings

_LEOFLOW_HOME = Path.home() / ".leoflow"


class DispatcherSettings(BaseSettings):
    """Everything the dispatcher reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="LEOFLOW_DISPATCHER_", extra="ignore")

    grpc_bind: str = Field(default="0.0.0.0:50052", description="Where AgentService listens")
    advertise_address: str = Field(
        default="",
        description="What this replica's agents dial; empty: 127.0.0.1:<bound port>",
    )
    xcom_address: str = Field(
        default="127.0.0.1:50054", description="xcom service, told to agents on Register"
    )
    logs_address: str = Field(
        default="127.0.0.1:50055", description="logs service, told to agents on Register"
    )
    scheduler_address: str = Field(
        default="127.0.0.1:50051",
        description="The scheduler's gRPC address (\"ipv4:a:1,b:2\" for replicas): agents' variables "
        "and connections are fetched there; empty: agents get none",
    )
    backend: Literal["local", "kubernetes"] = Field(
        default="local",
        description="Execution backend: local (a process per try) or kubernetes (a pod per try)",
    )
    venv_root: Path = Field(
        default=_LEOFLOW_HOME / "venvs",
        description="Per-DAG virtualenvs live at <venv_root>/<environment_hash>",
    )
    fallback_python: str = Field(
        default=sys.executable,
        description="Python that runs the agent when a DAG has no environment_hash",
    )
    work_dir: Path = Field(
        default=_LEOFLOW_HOME / "dispatcher",
        description="Markers, pid files and output of this replica's executions (one per replica)",
    )
    heartbeat_interval: float = Field(default=5.0, gt=0, description="How often agents heartbeat")
    heartbeat_timeout: float = Field(
        default=30.0, gt=0, description="Silence after which an agent is lost"
    )
    startup_timeout: float = Field(
        default=120.0, gt=0, description="Time an execution gets to make its first call"
    )
    execution_timeout_grace: float = Field(
        default=5.0,
        ge=0,
        description="Extra time past execution_timeout the agent gets to stop the task itself",
    )
    kill_grace: float = Field(
        default=10.0, ge=0, description="SIGTERM to SIGKILL delay when stopping an execution"
    )
    supervision_interval: float = Field(
        default=1.0, gt=0, description="Period of the watchdog and outbox loops"
    )
    finished_retention: float = Field(
        default=3600.0, ge=0, description="How long a finished execution is remembered"
    )
    concurrency: int = Field(default=32, ge=1, description="Executions this replica runs at once")
    agent_token_ttl: float = Field(default=86400.0, gt=0, description="Lifetime of an agent token")
    stop_executions_on_shutdown: bool = Field(
        default=True,
        description="Stop running executions when the dispatcher stops (false: they outlive it and are adopted on restart)",
    )
    warm_pool_size: int = Field(
        default=0,
        ge=0,
        le=32,
        description="local backend: standby agents kept warm per DAG environment recently used (0: off; Lite: 2)",
    )
    warm_pool_idle_timeout: float = Field(
        default=300.0,
        gt=0,
        description="local backend: a DAG environment's warm pool unused this long is reaped",
    )
    warm_pool_preimport: bool = Field(
        default=True,
        description="local backend: warm runners import the DAG file's top-level imports ahead (never the file itself)",
    )

    security: SecuritySettings = Field(default_factory=SecuritySettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)

    @model_validator(mode="after")
    def _check(self) -> DispatcherSettings:
        if (
            self.security.agent_token_secret is None
            or not self.security.agent_token_secret.get_secret_value()
        ):
            raise ValueError(
                "LEOFLOW_AGENT_TOKEN_SECRET is required: the dispatcher mints and checks agent tokens"
            )
        if self.backend == "kubernetes" and not self.advertise_address:
            raise ValueError(
                "LEOFLOW_DISPATCHER_ADVERTISE_ADDRESS is required with the kubernetes backend: "
                "task pods dial it to reach this replica"
            )
        if self.heartbeat_timeout <= self.heartbeat_interval:
            raise ValueError(
                f"heartbeat_timeout ({self.heartbeat_timeout}s) must exceed heartbeat_interval ({self.heartbeat_interval}s)"
            )
        return self

    @property
    def agent_token_secret(self) -> str:
        """The agent token secret (validated present)."""
        assert self.security.agent_token_secret is not None
        return self.security.agent_token_secret.get_secret_value()
