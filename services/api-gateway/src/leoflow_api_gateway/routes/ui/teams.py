"""GET /ui/teams (Airflow's routes/ui/teams.py). Teams exist only in Airflow's
multi-team mode, which Leoflow does not have (/ui/config says multi_team=false,
so the UI never asks); asked anyway, the answer is Airflow's own 403."""

from __future__ import annotations

from leoflow_common.auth import Capability
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...http.endpoint import endpoint
from ...http.errors import HTTPError
from ...http.params import parse_query
from ..common import PagedQuery


@endpoint(Capability.READ)
async def list_teams(request: Request) -> Response:
    parse_query(request, PagedQuery)
    raise HTTPError(403, "Multi-team mode is not configured in the Airflow environment")


routes = [Route("/teams", list_teams, methods=["GET"])]
