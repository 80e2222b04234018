"""The scheduler's typed settings (env prefix LEOFLOW_SCHEDULER_), read once in
__main__ and passed down. The shared security, bus and telemetry settings are
embedded and keep their own prefixes (LEOFLOW_JWT_SECRET, LEOFLOW_BUS_URL, ...)."""

from __future__ import annotations

from leoflow_common.settings import BusSettings, SecuritySettings, TelemetrySettings
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# "LEOF" in ASCII: the advisory-lock key scheduler replicas campaign on.
DEFAULT_LEADER_LOCK_KEY = 0x4C454F46


class SchedulerSettings(BaseSettings):
    """Everything the scheduler reads from the environment (LEOFLOW_SCHEDULER_*)."""

    model_config = SettingsConfigDict(env_prefix="LEOFLOW_SCHEDULER_", extra="ignore")

    database_url: str = Field(
        description="PostgreSQL DSN of the metadata database (postgresql://...)"
    )
    grpc_bind: str = Field(default="0.0.0.0:50051", description="host:port the gRPC API listens on")
    migrate_on_start: bool = Field(
        default=True, description="Run database migrations when the service starts"
    )
    bootstrap_admin_password: SecretStr | None = Field(
        default=None,
        description='Create user "admin" (role Admin) with this password when no user exists',
    )
    dags_are_paused_at_creation: bool = Field(
        default=True,
        description="New DAGs start paused unless their spec says otherwise (Airflow's default)",
    )
    default_max_active_runs: int = Field(
        default=16, ge=1, description="max_active_runs of DAGs that set none"
    )
    default_max_active_tasks: int = Field(
        default=16, ge=1, description="max_active_tasks of DAGs that set none"
    )
    leader_lock_key: int = Field(
        default=DEFAULT_LEADER_LOCK_KEY,
        description="PostgreSQL advisory-lock key of the leader election",
    )
    leader_poll_interval: float = Field(
        default=0.5, gt=0, description="Seconds between a standby's attempts to take the lead"
    )
    leader_watchdog_interval: float = Field(
        default=1.0, gt=0, description="Seconds between the leader's checks of its lock connection"
    )
    outbox_sweep_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between outbox sweeps (the relay is also woken on every commit)",
    )
    outbox_batch_size: int = Field(default=200, ge=1, description="Outbox rows published per pass")
    outbox_retention_seconds: float = Field(
        default=86400.0, ge=0, description="How long published outbox rows are kept"
    )
    run_starter_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between passes of the run starter (also woken by events)",
    )
    retry_timer_max_sleep: float = Field(
        default=30.0, gt=0, description="Longest the retry timer sleeps without checking"
    )
    schedule_timer_max_sleep: float = Field(
        default=60.0,
        gt=0,
        description="Longest the schedule timer sleeps without checking (it wakes at the next due run)",
    )
    admission_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between passes queueing held (scheduled) task instances (also woken when a slot frees)",
    )
    default_pool_slots: int = Field(
        default=128,
        ge=-1,
        description="Slots of a tenant's default_pool when it is created (Airflow's default_pool_task_slot_count)",
    )
    infrastructure_dispatch_budget: int = Field(
        default=3,
        ge=1,
        description="Dispatch attempts of one try before an infrastructure failure fails the task",
    )
    consumer_concurrency: int = Field(default=8, ge=1, description="Task events handled at once")
    db_pool_min_size: int = Field(default=1, ge=0)
    db_pool_max_size: int = Field(
        default=20,
        ge=1,
        description="Above consumer_concurrency: each task event holds one connection",
    )
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
