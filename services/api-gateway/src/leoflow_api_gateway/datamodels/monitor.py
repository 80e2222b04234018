"""Health shapes (Airflow 3.2.2's HealthInfoResponse), plus Leoflow's own services."""

from __future__ import annotations

from typing import Literal

from .common import BaseModel

HealthStatus = Literal["healthy", "unhealthy"] | None


class BaseInfoResponse(BaseModel):
    status: HealthStatus


class SchedulerInfoResponse(BaseModel):
    status: HealthStatus
    latest_scheduler_heartbeat: str | None


class TriggererInfoResponse(BaseModel):
    status: HealthStatus
    latest_triggerer_heartbeat: str | None


class DagProcessorInfoResponse(BaseModel):
    status: HealthStatus
    latest_dag_processor_heartbeat: str | None


class HealthInfoResponse(BaseModel):
    metadatabase: BaseInfoResponse
    scheduler: SchedulerInfoResponse
    triggerer: TriggererInfoResponse
    dag_processor: DagProcessorInfoResponse | None = None
    # Leoflow's services without an Airflow counterpart (extra keys: clients ignore them).
    xcom: BaseInfoResponse
    logs: BaseInfoResponse
