"""Every operation of Airflow 3.2.2's REST and private UI specs is routed: served,
or answered 501 naming it — never the router's 404 or 405."""

from __future__ import annotations

import re

import pytest

ROUTER_MISSES = ({"detail": "Not Found"}, {"detail": "API route not found"}, {"detail": "Method Not Allowed"})
_PARAM = re.compile(r"\{(\w+)\}")
_NUMERIC = {"map_index", "try_number", "task_try_number", "version_number", "backfill_id", "asset_id", "event_log_id", "import_error_id", "job_id"}


def operations(contract, spec: str):
    for path, ops in contract.specs[spec]["paths"].items():
        for method in ops:
            url = _PARAM.sub(lambda m: "1" if m[1] in _NUMERIC else "x", path)
            yield method.upper(), url, ops[method]["operationId"]


@pytest.mark.parametrize("spec", ["public", "ui"])
async def test_every_airflow_operation_is_routed(offline, token_for, contract, spec):
    offline.cookies.set("_token", token_for("Admin"))
    unrouted = []
    for method, url, operation_id in operations(contract, spec):
        response = await offline.request(method, url, json={} if method in ("POST", "PATCH", "PUT") else None)
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else None
        if response.status_code in (404, 405) and body in ROUTER_MISSES:
            unrouted.append(f"{method} {url} ({operation_id})")
        if response.status_code == 501:
            assert operation_id in body["detail"], (operation_id, body)
    assert unrouted == []
