"""Base classes of the datamodels, as Airflow's core_api/base.py sets them up."""

from __future__ import annotations

from typing import Annotated, Literal

import pydantic
from pydantic import ConfigDict, Field


class BaseModel(pydantic.BaseModel):
    """A response shape: validated when built, so a translation bug fails loudly in tests."""

    model_config = ConfigDict(populate_by_name=True)


class StrictBaseModel(BaseModel):
    """A request body: unknown fields are refused (422), as Airflow does."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")


# An integer the services' int32 fields hold (map indexes, try and version numbers,
# offsets): anything larger is refused (422) rather than overflowing a gRPC call.
INT32_MAX = 2**31 - 1
Int32 = Annotated[int, Field(ge=-(2**31), le=INT32_MAX)]
Int32NonNegative = Annotated[int, Field(ge=0, le=INT32_MAX)]


# Airflow 3.2.2's enums (the OpenAPI spec's DagRunState, DagRunType, ...).
DagRunState = Literal["queued", "running", "success", "failed"]
DagRunType = Literal["backfill", "scheduled", "manual", "asset_triggered", "asset_materialization"]
DagRunTriggeredByType = Literal["cli", "operator", "rest_api", "ui", "test", "timetable", "asset", "backfill"]
TaskInstanceState = Literal[
    "removed",
    "scheduled",
    "queued",
    "running",
    "success",
    "restarting",
    "failed",
    "up_for_retry",
    "up_for_reschedule",
    "upstream_failed",
    "skipped",
    "deferred",
]
