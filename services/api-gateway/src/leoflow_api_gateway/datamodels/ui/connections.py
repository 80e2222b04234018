"""GET /ui/connections/hook_meta: the connection types the connection form offers."""

from __future__ import annotations

from typing import Any

from ..common import BaseModel


class ConnectionHookFieldBehavior(BaseModel):
    hidden: bool = False
    title: str | None = None
    placeholder: str | None = None


class StandardHookFields(BaseModel):
    description: ConnectionHookFieldBehavior | None = None
    url_schema: ConnectionHookFieldBehavior | None = None
    host: ConnectionHookFieldBehavior | None = None
    port: ConnectionHookFieldBehavior | None = None
    login: ConnectionHookFieldBehavior | None = None
    password: ConnectionHookFieldBehavior | None = None


class ConnectionHookMetaData(BaseModel):
    connection_type: str | None
    hook_class_name: str | None
    default_conn_name: str | None
    hook_name: str
    standard_fields: StandardHookFields | None
    extra_fields: dict[str, Any] | None
