"""Typed settings of the xcom service (env prefix LEOFLOW_XCOM_), read once in
__main__ and passed down."""

from __future__ import annotations

from typing import Literal

from leoflow_common.settings import BusSettings, SecuritySettings, TelemetrySettings
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_TTL_SECONDS = 7 * 24 * 3600
DEFAULT_MAX_VALUE_BYTES = 256 * 1024


class XComSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEOFLOW_XCOM_", extra="ignore")

    grpc_bind: str = Field(
        default="0.0.0.0:50054", description="host:port the gRPC server listens on"
    )
    backend: Literal["redis", "postgres"] = Field(
        default="redis", description="Where values live: redis (the stack) or postgres (Lite)"
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis of the redis backend"
    )
    key_prefix: str = Field(
        default="leoflow:", description="Prefix of every Redis key this service writes"
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/leoflow",
        description="PostgreSQL of the postgres backend (schema 'xcom' is this service's)",
    )
    migrate_on_start: bool = Field(
        default=True, description="Run this service's migrations on start (postgres backend)"
    )
    ttl_seconds: int = Field(
        default=DEFAULT_TTL_SECONDS, gt=0, description="Lifetime of a value after its last write"
    )
    max_value_bytes: int = Field(
        default=DEFAULT_MAX_VALUE_BYTES, gt=0, description="Cap of one value's JSON, in bytes"
    )
    max_resolved_bytes: int = Field(
        default=8 * 1024 * 1024,
        gt=0,
        description="Cap of all resolved arguments of one call together (keeps answers under gRPC's message limit)",
    )
    sweep_interval_seconds: float = Field(
        default=60.0, gt=0, description="How often expired rows are deleted (postgres)"
    )
    purge_concurrency: int = Field(
        default=4, gt=0, description="TaskInstancesCleared messages handled at once"
    )

    security: SecuritySettings = Field(default_factory=SecuritySettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
