"""Airflow features Leoflow does not have answer their valid empty collections
(the UI asks for them on most pages), not errors and not invented data."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize(
    ("url", "schema"),
    [
        ("/api/v2/plugins", "PluginCollectionResponse"),
        ("/api/v2/plugins/importErrors", "PluginImportErrorCollectionResponse"),
        ("/api/v2/dagWarnings?dag_id=etl", "DAGWarningCollectionResponse"),
        ("/api/v2/dags/etl/dagRuns/~/hitlDetails?state=deferred", "HITLDetailCollection"),
        ("/api/v2/assets/events?limit=6&order_by=-timestamp", "AssetEventCollectionResponse"),
    ],
)
async def test_empty_collections_match_the_spec(offline, token_for, contract, url, schema):
    offline.cookies.set("_token", token_for("Viewer"))
    response = await offline.get(url)
    assert response.status_code == 200
    contract.validate(schema, response.json())
    assert response.json()["total_entries"] == 0


async def test_empty_collections_still_need_a_user_and_valid_paging(offline, token_for):
    assert (await offline.get("/api/v2/plugins")).status_code == 401
    offline.cookies.set("_token", token_for("Viewer"))
    bad = await offline.get("/api/v2/importErrors", params={"limit": "-1"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["query", "limit"]
