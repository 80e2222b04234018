"""Pool shapes (Airflow 3.2.2: PoolResponse, PoolBody, PoolPatchBody, the bulk bodies)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .common import INT32_MAX, BaseModel, StrictBaseModel

# Bounded above by what the services' int32 field holds (a 422, not an overflow).
PoolSlots = Annotated[int, Field(ge=-1, le=INT32_MAX, description="Number of slots. Use -1 for unlimited.")]


class PoolResponse(BaseModel):
    name: str
    slots: int
    description: str | None
    include_deferred: bool
    occupied_slots: int
    running_slots: int
    queued_slots: int
    scheduled_slots: int
    open_slots: int
    deferred_slots: int
    team_name: str | None


class PoolCollectionResponse(BaseModel):
    pools: list[PoolResponse]
    total_entries: int


class PoolBody(StrictBaseModel):
    name: str = Field(max_length=256)
    slots: PoolSlots
    description: str | None = None
    include_deferred: bool = False
    team_name: str | None = Field(default=None, max_length=50)


class PoolPatchBody(StrictBaseModel):
    # Airflow names the body field "pool" (and accepts "name").
    name: str | None = Field(default=None, alias="pool")
    slots: PoolSlots | None = None
    description: str | None = None
    include_deferred: bool | None = None
    team_name: str | None = Field(default=None, max_length=50)


class BulkCreateAction(StrictBaseModel):
    action: Literal["create"]
    entities: list[PoolBody]
    action_on_existence: Literal["fail", "skip", "overwrite"] = "fail"


class BulkUpdateAction(StrictBaseModel):
    action: Literal["update"]
    entities: list[PoolBody]
    update_mask: list[str] | None = None
    action_on_non_existence: Literal["fail", "skip"] = "fail"


class BulkDeleteAction(StrictBaseModel):
    action: Literal["delete"]
    entities: list[str | PoolBody]
    action_on_non_existence: Literal["fail", "skip"] = "fail"


class BulkBody(StrictBaseModel):
    actions: list[Annotated[BulkCreateAction | BulkUpdateAction | BulkDeleteAction, Field(discriminator="action")]]


class BulkActionResponse(BaseModel):
    success: list[str] = []
    errors: list[dict] = []


class BulkResponse(BaseModel):
    create: BulkActionResponse | None = None
    update: BulkActionResponse | None = None
    delete: BulkActionResponse | None = None
