"""Typed settings of the logs service (env prefix LEOFLOW_LOGS_), read once in
__main__ and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from leoflow_common.settings import BusSettings, SecuritySettings, TelemetrySettings
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEOFLOW_LOGS_", extra="ignore")

    grpc_bind: str = Field(
        default="0.0.0.0:50055", description="host:port the gRPC server listens on"
    )
    backend: Literal["redis", "disk"] = Field(
        default="redis",
        description="redis: a Redis stream per try plus a PostgreSQL archive (the stack); disk: NDJSON files (Lite)",
    )
    directory: Path = Field(
        default=Path("~/.leoflow/logs"), description="Root of the log files (disk backend)"
    )
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis of the live streams (redis backend)"
    )
    key_prefix: str = Field(
        default="leoflow:", description="Prefix of every Redis key this service writes"
    )
    database_url: str = Field(
        default="postgresql://postgres@127.0.0.1:5432/leoflow",
        description="PostgreSQL of the archive (redis backend; schema 'logs' is this service's)",
    )
    migrate_on_start: bool = Field(
        default=True, description="Run this service's migrations on start (redis backend)"
    )
    max_record_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Records above this are truncated with a marker"
    )
    max_batch_records: int = Field(
        default=1000, gt=0, description="Most records one AppendLogs request may carry"
    )
    read_batch_records: int = Field(
        default=1000, gt=0, description="Most records one ReadLogs message carries"
    )
    follow_wait_seconds: float = Field(
        default=5.0,
        gt=0,
        description="Longest a follower waits on the store before it re-reads (wake-ups come sooner)",
    )
    stream_ttl_seconds: float = Field(
        default=24 * 3600,
        gt=0,
        description="An open try's stream expires this long after its last append",
    )
    closed_stream_ttl_seconds: float = Field(
        default=600, gt=0, description="A closed try's stream expires this long after the close"
    )
    max_stream_entries: int = Field(
        default=10_000, ge=100, description="A stream is trimmed to about this many entries"
    )

    security: SecuritySettings = Field(default_factory=SecuritySettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
