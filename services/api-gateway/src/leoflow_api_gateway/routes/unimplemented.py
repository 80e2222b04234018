"""Every operation of Airflow 3.2.2's REST API (v2-rest-api-generated.yaml) and
private UI API (_private_ui.yaml) that the gateway does not implement yet answers
501 with a clear detail, after the usual authentication — never a misleading 404
or a blank page of nulls.

The tables list all of 3.2.2's operations (method, path under its mount,
operationId); an entry is served here only when no implemented route answers the
same method and path, so implementing a route removes its 501 by itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from leoflow_common.auth import Capability
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..http.endpoint import endpoint
from ..http.errors import HTTPError

AIRFLOW_PUBLIC_OPERATIONS: tuple[tuple[str, str, str], ...] = (
    ("GET", "/assets", "get_assets"),
    ("GET", "/assets/aliases", "get_asset_aliases"),
    ("GET", "/assets/aliases/{asset_alias_id}", "get_asset_alias"),
    ("GET", "/assets/events", "get_asset_events"),
    ("POST", "/assets/events", "create_asset_event"),
    ("POST", "/assets/{asset_id}/materialize", "materialize_asset"),
    ("GET", "/assets/{asset_id}/queuedEvents", "get_asset_queued_events"),
    ("DELETE", "/assets/{asset_id}/queuedEvents", "delete_asset_queued_events"),
    ("GET", "/assets/{asset_id}", "get_asset"),
    ("GET", "/dags/{dag_id}/assets/queuedEvents", "get_dag_asset_queued_events"),
    ("DELETE", "/dags/{dag_id}/assets/queuedEvents", "delete_dag_asset_queued_events"),
    ("GET", "/dags/{dag_id}/assets/{asset_id}/queuedEvents", "get_dag_asset_queued_event"),
    ("DELETE", "/dags/{dag_id}/assets/{asset_id}/queuedEvents", "delete_dag_asset_queued_event"),
    ("GET", "/backfills", "list_backfills"),
    ("POST", "/backfills", "create_backfill"),
    ("GET", "/backfills/{backfill_id}", "get_backfill"),
    ("PUT", "/backfills/{backfill_id}/pause", "pause_backfill"),
    ("PUT", "/backfills/{backfill_id}/unpause", "unpause_backfill"),
    ("PUT", "/backfills/{backfill_id}/cancel", "cancel_backfill"),
    ("POST", "/backfills/dry_run", "create_backfill_dry_run"),
    ("DELETE", "/connections/{connection_id}", "delete_connection"),
    ("GET", "/connections/{connection_id}", "get_connection"),
    ("PATCH", "/connections/{connection_id}", "patch_connection"),
    ("GET", "/connections", "get_connections"),
    ("POST", "/connections", "post_connection"),
    ("PATCH", "/connections", "bulk_connections"),
    ("POST", "/connections/test", "test_connection"),
    ("POST", "/connections/defaults", "create_default_connections"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}", "get_dag_run"),
    ("DELETE", "/dags/{dag_id}/dagRuns/{dag_run_id}", "delete_dag_run"),
    ("PATCH", "/dags/{dag_id}/dagRuns/{dag_run_id}", "patch_dag_run"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/upstreamAssetEvents", "get_upstream_asset_events"),
    ("POST", "/dags/{dag_id}/dagRuns/{dag_run_id}/clear", "clear_dag_run"),
    ("GET", "/dags/{dag_id}/dagRuns", "get_dag_runs"),
    ("POST", "/dags/{dag_id}/dagRuns", "trigger_dag_run"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/wait", "wait_dag_run_until_finished"),
    ("POST", "/dags/{dag_id}/dagRuns/list", "get_list_dag_runs_batch"),
    ("GET", "/dagSources/{dag_id}", "get_dag_source"),
    ("GET", "/dagStats", "get_dag_stats"),
    ("GET", "/config", "get_config"),
    ("GET", "/config/section/{section}/option/{option}", "get_config_value"),
    ("GET", "/dagWarnings", "list_dag_warnings"),
    ("GET", "/dags", "get_dags"),
    ("PATCH", "/dags", "patch_dags"),
    ("GET", "/dags/{dag_id}", "get_dag"),
    ("PATCH", "/dags/{dag_id}", "patch_dag"),
    ("DELETE", "/dags/{dag_id}", "delete_dag"),
    ("GET", "/dags/{dag_id}/details", "get_dag_details"),
    ("POST", "/dags/{dag_id}/favorite", "favorite_dag"),
    ("POST", "/dags/{dag_id}/unfavorite", "unfavorite_dag"),
    ("GET", "/eventLogs/{event_log_id}", "get_event_log"),
    ("GET", "/eventLogs", "get_event_logs"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/links", "get_extra_links"),
    ("GET", "/importErrors/{import_error_id}", "get_import_error"),
    ("GET", "/importErrors", "get_import_errors"),
    ("GET", "/jobs", "get_jobs"),
    ("GET", "/plugins", "get_plugins"),
    ("GET", "/plugins/importErrors", "import_errors"),
    ("DELETE", "/pools/{pool_name}", "delete_pool"),
    ("GET", "/pools/{pool_name}", "get_pool"),
    ("PATCH", "/pools/{pool_name}", "patch_pool"),
    ("GET", "/pools", "get_pools"),
    ("POST", "/pools", "post_pool"),
    ("PATCH", "/pools", "bulk_pools"),
    ("GET", "/providers", "get_providers"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/{xcom_key}", "get_xcom_entry"),
    ("PATCH", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/{xcom_key}", "update_xcom_entry"),
    ("DELETE", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries/{xcom_key}", "delete_xcom_entry"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries", "get_xcom_entries"),
    ("POST", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/xcomEntries", "create_xcom_entry"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}", "get_task_instance"),
    ("PATCH", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}", "patch_task_instance"),
    ("DELETE", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}", "delete_task_instance"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/listMapped", "get_mapped_task_instances"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/dependencies", "get_task_instance_dependencies_by_map_index"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/dependencies", "get_task_instance_dependencies"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/tries", "get_task_instance_tries"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/tries", "get_mapped_task_instance_tries"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}", "get_mapped_task_instance"),
    ("PATCH", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}", "patch_task_instance_by_map_index"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances", "get_task_instances"),
    ("PATCH", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances", "bulk_task_instances"),
    ("POST", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/list", "get_task_instances_batch"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/tries/{task_try_number}", "get_task_instance_try_details"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/tries/{task_try_number}", "get_mapped_task_instance_try_details"),
    ("POST", "/dags/{dag_id}/clearTaskInstances", "post_clear_task_instances"),
    ("PATCH", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/dry_run", "patch_task_instance_dry_run_by_map_index"),
    ("PATCH", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/dry_run", "patch_task_instance_dry_run"),
    ("GET", "/dags/{dag_id}/tasks", "get_tasks"),
    ("GET", "/dags/{dag_id}/tasks/{task_id}", "get_task"),
    ("DELETE", "/variables/{variable_key}", "delete_variable"),
    ("GET", "/variables/{variable_key}", "get_variable"),
    ("PATCH", "/variables/{variable_key}", "patch_variable"),
    ("GET", "/variables", "get_variables"),
    ("POST", "/variables", "post_variable"),
    ("PATCH", "/variables", "bulk_variables"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/logs/{try_number}", "get_log"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/externalLogUrl/{try_number}", "get_external_log_url"),
    ("PUT", "/parseDagFile/{file_token}", "reparse_dag_file"),
    ("GET", "/dagTags", "get_dag_tags"),
    ("GET", "/dags/{dag_id}/dagVersions/{version_number}", "get_dag_version"),
    ("GET", "/dags/{dag_id}/dagVersions", "get_dag_versions"),
    ("PATCH", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/hitlDetails", "update_hitl_detail"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/hitlDetails", "get_hitl_detail"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}/hitlDetails/tries/{try_number}", "get_hitl_detail_try_detail"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/hitlDetails", "get_hitl_details"),
    ("GET", "/monitor/health", "get_health"),
    ("GET", "/version", "get_version"),
    ("GET", "/auth/login", "login"),
    ("GET", "/auth/logout", "logout"),
)

AIRFLOW_UI_OPERATIONS: tuple[tuple[str, str, str], ...] = (
    ("GET", "/auth/menus", "get_auth_menus"),
    ("GET", "/auth/me", "get_current_user_info"),
    ("POST", "/auth/token", "generate_token"),
    ("GET", "/next_run_assets/{dag_id}", "next_run_assets"),
    ("GET", "/partitioned_dag_runs", "get_partitioned_dag_runs"),
    ("GET", "/pending_partitioned_dag_run/{dag_id}/{partition_key}", "get_pending_partitioned_dag_run"),
    ("GET", "/config", "get_configs"),
    ("GET", "/connections/hook_meta", "hook_meta_data"),
    ("GET", "/dags", "get_dags_ui"),
    ("GET", "/dags/{dag_id}/latest_run", "get_latest_run_info"),
    ("GET", "/dependencies", "get_dependencies"),
    ("GET", "/dashboard/historical_metrics_data", "historical_metrics"),
    ("GET", "/dashboard/dag_stats", "dag_stats"),
    ("GET", "/dags/{dag_id}/dagRuns/{dag_run_id}/deadlines", "get_dag_run_deadlines"),
    ("GET", "/structure/structure_data", "structure_data"),
    ("GET", "/backfills", "list_backfills_ui"),
    ("GET", "/grid/structure/{dag_id}", "get_dag_structure"),
    ("GET", "/grid/runs/{dag_id}", "get_grid_runs"),
    ("GET", "/grid/ti_summaries/{dag_id}", "get_grid_ti_summaries_stream"),
    ("GET", "/gantt/{dag_id}/{run_id}", "get_gantt_data"),
    ("GET", "/calendar/{dag_id}", "get_calendar"),
    ("GET", "/teams", "list_teams"),
)

_CONVERTER = re.compile(r"\{(\w+):\w+\}")


def _not_implemented(operation_id: str, method: str, path: str):
    # Reads need READ, anything else EXECUTE: a caller still learns 401/403 first.
    capability = Capability.READ if method == "GET" else Capability.EXECUTE

    @endpoint(capability)
    async def not_implemented(request: Request) -> Response:
        raise HTTPError(501, f"Leoflow does not implement Airflow's {operation_id} ({method} {path}) yet")

    not_implemented.__name__ = operation_id
    return not_implemented


def spec_path(path: str) -> str:
    """A route's path as the spec writes it: "/pools/{pool_name:path}" -> "/pools/{pool_name}"."""
    return _CONVERTER.sub(r"{\1}", path)


def _served(implemented: Iterable[BaseRoute]) -> set[tuple[str, str]]:
    return {
        (method, spec_path(route.path))
        for route in implemented
        if isinstance(route, Route)
        for method in (route.methods or ())
    }


def _routes(table: tuple[tuple[str, str, str], ...], mount: str, implemented: Iterable[BaseRoute]) -> list[Route]:
    served = _served(implemented)
    return [
        Route(path, _not_implemented(operation_id, method, mount + path), methods=[method])
        for method, path, operation_id in table
        if (method, path) not in served
    ]


def public_routes(implemented: Iterable[BaseRoute]) -> list[Route]:
    """501 routes for /api/v2 operations not among `implemented`."""
    return _routes(AIRFLOW_PUBLIC_OPERATIONS, "/api/v2", implemented)


def ui_routes(implemented: Iterable[BaseRoute]) -> list[Route]:
    """501 routes for /ui operations not among `implemented`."""
    return _routes(AIRFLOW_UI_OPERATIONS, "/ui", implemented)
