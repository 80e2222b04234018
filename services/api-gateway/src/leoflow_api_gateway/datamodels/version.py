"""Version shape."""

from __future__ import annotations

from .common import BaseModel


class VersionInfo(BaseModel):
    version: str
    git_version: str | None
