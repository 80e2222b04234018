"""The graph view's shape (/ui/structure/structure_data)."""

from __future__ import annotations

from typing import Literal

from ..common import BaseModel


class NodeResponse(BaseModel):
    id: str
    label: str
    type: Literal["join", "task", "asset-condition", "asset", "asset-alias", "asset-name-ref", "asset-uri-ref", "dag", "sensor", "trigger"]
    children: list[NodeResponse] | None = None
    is_mapped: bool | None = None
    tooltip: str | None = None
    setup_teardown_type: Literal["setup", "teardown"] | None = None
    operator: str | None = None
    asset_condition_type: Literal["or-gate", "and-gate"] | None = None


class EdgeResponse(BaseModel):
    source_id: str
    target_id: str
    is_setup_teardown: bool | None = None
    label: str | None = None
    is_source_asset: bool | None = None


class StructureDataResponse(BaseModel):
    edges: list[EdgeResponse]
    nodes: list[NodeResponse]
