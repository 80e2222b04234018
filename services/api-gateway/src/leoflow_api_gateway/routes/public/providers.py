"""/api/v2/providers: Leoflow installs no Airflow provider packages, so the answer
is Airflow's valid empty collection (paging still validated) — never invented rows."""

from __future__ import annotations

from starlette.routing import Route

from ..common import empty_collection

get_providers = empty_collection("providers", "Leoflow installs no Airflow providers.")

routes = [Route("/providers", get_providers, methods=["GET"])]
