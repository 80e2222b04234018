"""GET /ui/config: what the UI needs before it renders anything."""

from __future__ import annotations

from typing import Any, Literal

from ..common import BaseModel


class UIAlert(BaseModel):
    text: str
    category: Literal["info", "warning", "error"]


class ConfigResponse(BaseModel):
    fallback_page_limit: int
    auto_refresh_interval: int
    hide_paused_dags_by_default: bool
    instance_name: str
    enable_swagger_ui: bool
    require_confirmation_dag_change: bool
    default_wrap: bool
    test_connection: Literal["Disabled", "Enabled", "Hidden"]
    dashboard_alert: list[UIAlert]
    show_external_log_redirect: bool
    external_log_name: str | None = None
    theme: dict[str, Any] | None
    multi_team: bool
