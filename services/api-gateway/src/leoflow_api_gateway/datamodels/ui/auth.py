"""GET /ui/auth/me and /ui/auth/menus."""

from __future__ import annotations

from typing import Literal

from ..common import BaseModel, StrictBaseModel

MenuItem = Literal[
    "Required Actions",
    "Assets",
    "Audit Log",
    "Config",
    "Connections",
    "Dags",
    "Docs",
    "Jobs",
    "Plugins",
    "Pools",
    "Providers",
    "Variables",
    "XComs",
]


class ExtraMenuItem(BaseModel):
    text: str
    href: str


class MenuItemCollectionResponse(BaseModel):
    authorized_menu_items: list[MenuItem]
    extra_menu_items: list[ExtraMenuItem]


class AuthenticatedMeResponse(BaseModel):
    id: str
    username: str


TokenType = Literal["api", "cli"]


class GenerateTokenBody(StrictBaseModel):
    token_type: TokenType = "api"


class GenerateTokenResponse(BaseModel):
    access_token: str
    token_type: TokenType
    expires_in_seconds: int
