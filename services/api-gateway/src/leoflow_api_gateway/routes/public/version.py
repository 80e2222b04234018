"""GET /api/v2/version (public)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ...datamodels.version import VersionInfo
from ...http.endpoint import PUBLIC, endpoint
from ...http.responses import json_response

# We report the version of the Airflow UI we serve, not Leoflow's: the UI uses this
# string as the cache-buster of its i18n files (static/i18n/...json?v=<version>) and
# shows it in its footer, and API clients use it to know which Airflow REST contract
# they are talking to — Airflow 3.2.2's, which is the one this gateway implements.
AIRFLOW_API_VERSION = "3.2.2"


@endpoint(PUBLIC)
async def get_version(request: Request) -> Response:
    return json_response(VersionInfo(version=AIRFLOW_API_VERSION, git_version=None))


routes = [Route("/version", get_version, methods=["GET"])]
