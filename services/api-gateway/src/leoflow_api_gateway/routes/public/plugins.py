"""GET /api/v2/plugins and /api/v2/plugins/importErrors: Leoflow loads no Airflow
plugins (the control plane runs no user Python), so both are empty — the UI
asks on every page to build its navigation."""

from __future__ import annotations

from starlette.routing import Route

from ..common import empty_collection

get_plugins = empty_collection("plugins", "No plugins: the control plane loads none.")
import_errors = empty_collection("import_errors", "No plugin import errors: no plugin is imported.")

routes = [
    Route("/plugins", get_plugins, methods=["GET"]),
    Route("/plugins/importErrors", import_errors, methods=["GET"]),
]
