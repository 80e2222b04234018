"""Airflow's bulk request and response shapes (BulkBody[T], BulkResponse), shared
by PATCH /variables and PATCH /connections."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import Field

from .common import BaseModel, StrictBaseModel

T = TypeVar("T")


class BulkCreateAction(StrictBaseModel, Generic[T]):
    action: Literal["create"]
    entities: list[T]
    action_on_existence: Literal["fail", "skip", "overwrite"] = "fail"


class BulkUpdateAction(StrictBaseModel, Generic[T]):
    action: Literal["update"]
    entities: list[T]
    update_mask: list[str] | None = None
    action_on_non_existence: Literal["fail", "skip"] = "fail"


class BulkDeleteAction(StrictBaseModel, Generic[T]):
    action: Literal["delete"]
    # Ids/keys, or whole entities (their id is what counts).
    entities: list[str | T]
    action_on_non_existence: Literal["fail", "skip"] = "fail"


class BulkBody(StrictBaseModel, Generic[T]):
    actions: list[
        Annotated[BulkCreateAction[T] | BulkUpdateAction[T] | BulkDeleteAction[T], Field(discriminator="action")]
    ]


class BulkActionResponse(BaseModel):
    success: list[str] = []
    errors: list[dict[str, Any]] = []


class BulkResponse(BaseModel):
    create: BulkActionResponse | None = None
    update: BulkActionResponse | None = None
    delete: BulkActionResponse | None = None
