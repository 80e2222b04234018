"""The simple auth manager's login shapes (POST /auth/token)."""

from __future__ import annotations

from .common import BaseModel, StrictBaseModel


class LoginBody(StrictBaseModel):
    username: str
    password: str


class LoginResponse(BaseModel):
    access_token: str
