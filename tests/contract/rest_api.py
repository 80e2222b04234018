"""Airflow 3.2.2's REST operations and how the gateway answers each: served by a
route of its own, served with Airflow's valid empty answer (a thing Leoflow does
not have, such as plugins), or 501. Read from the spec shipped in the
apache-airflow-core wheel and from the gateway's route table itself, so the
coverage document and the contract test cannot drift from the code."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from starlette.routing import Route

REPO = Path(__file__).resolve().parents[2]
SPEC_PATH = REPO / "var" / "airflow-ui" / "openapi" / "v2-rest-api-generated.yaml"
MOUNT = "/api/v2"

IMPLEMENTED = "implemented"
EMPTY = "empty by nature"
NOT_IMPLEMENTED = "501"


def ensure_spec() -> Path:
    """The 3.2.2 spec, fetched from the pinned wheel by scripts/fetch-ui.sh (idempotent)."""
    if not SPEC_PATH.exists():
        subprocess.run([str(REPO / "scripts" / "fetch-ui.sh")], check=True, cwd=REPO)
    return SPEC_PATH


def load_spec() -> dict[str, Any]:
    return yaml.safe_load(ensure_spec().read_text())


@dataclass(frozen=True)
class Operation:
    operation_id: str
    method: str
    path: str  # as in the spec, with the /api/v2 prefix
    tag: str
    status: str
    module: str  # the gateway module answering it; for EMPTY, why it is empty; "" for 501


def _route_table() -> dict[tuple[str, str], Route]:
    """(METHOD, path under /api/v2) -> the route answering it, first match wins (as Starlette)."""
    from leoflow_api_gateway.app import public_api_routes
    from leoflow_api_gateway.routes.unimplemented import spec_path

    table: dict[tuple[str, str], Route] = {}
    for route in public_api_routes():
        if isinstance(route, Route):
            for method in route.methods or ():
                table.setdefault((method, spec_path(route.path)), route)
    return table


def _status(route: Route | None) -> tuple[str, str]:
    if route is None:
        return NOT_IMPLEMENTED, ""
    endpoint = route.endpoint
    module = endpoint.__module__.removeprefix("leoflow_api_gateway.")
    if module == "routes.unimplemented":
        return NOT_IMPLEMENTED, ""
    if endpoint.__qualname__.startswith("empty_collection."):
        # Its docstring says why Leoflow has nothing of the kind.
        return EMPTY, (endpoint.__doc__ or "").strip()
    return IMPLEMENTED, module


def operations(spec: dict[str, Any] | None = None) -> list[Operation]:
    """Every operation of the spec, in the spec's order, with the gateway's answer."""
    spec = spec or load_spec()
    table = _route_table()
    result = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            status, module = _status(table.get((method.upper(), path.removeprefix(MOUNT))))
            result.append(Operation(op["operationId"], method.upper(), path, (op.get("tags") or ["-"])[0], status, module))
    return result
