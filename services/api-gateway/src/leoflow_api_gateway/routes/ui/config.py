"""GET /ui/config: the UI's root loader fetches it before rendering any page."""

from __future__ import annotations

from leoflow_common.auth import Capability
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...datamodels.ui.config import ConfigResponse
from ...http.endpoint import endpoint, gateway
from ...http.responses import json_response


@endpoint(Capability.READ)
async def get_configs(request: Request) -> Response:
    settings = gateway(request).settings
    config = ConfigResponse(
        fallback_page_limit=settings.fallback_page_limit,
        auto_refresh_interval=settings.auto_refresh_interval,
        hide_paused_dags_by_default=False,
        instance_name=settings.instance_name,
        # No Swagger UI is served, so the UI must not link to one.
        enable_swagger_ui=False,
        require_confirmation_dag_change=False,
        default_wrap=False,
        test_connection="Disabled",
        dashboard_alert=[],
        show_external_log_redirect=False,
        external_log_name=None,
        theme=None,
        multi_team=False,
    )
    return json_response(config)


routes = [Route("/config", get_configs, methods=["GET"])]
