"""GET /ui/connections/hook_meta: the connection form's types (connection_types.py);
the connections themselves are /api/v2/connections."""

from __future__ import annotations

from leoflow_common.auth import Capability
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...http.endpoint import endpoint
from ...http.responses import json_response
from .connection_types import CONNECTION_TYPES


@endpoint(Capability.OPERATE)
async def hook_meta_data(request: Request) -> Response:
    """Airflow lets only those who may read connections (Op and Admin) ask."""
    return json_response(list(CONNECTION_TYPES))


routes = [Route("/connections/hook_meta", hook_meta_data, methods=["GET"])]
