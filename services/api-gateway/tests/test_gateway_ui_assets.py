"""The unmodified Airflow UI: index.html with its base href filled in for every
non-API GET, hashed assets cached forever, the login page under /auth, gzip for
larger bodies, and a clear 503 when scripts/fetch-ui.sh has not been run."""

from __future__ import annotations

import re
from pathlib import Path

ENTRY = re.compile(r'src="\./static/(assets/index-[\w-]+\.js)"')


def entry_script(ui_dir: Path) -> str:
    return ENTRY.search((ui_dir / "ui" / "index.html").read_text())[1]


async def test_every_ui_path_gets_index_html_with_the_base_href(offline, ui_dir):
    original = (ui_dir / "ui" / "index.html").read_text()
    for path in ("/", "/dags", "/dags/etl/runs/manual__2026-11-22T01:36:27+00:00/tasks/extract", "/favicon.ico"):
        response = await offline.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["cache-control"] == "no-cache"
        assert '<base href="/" />' in response.text
        assert "{{" not in response.text
        # Nothing else of the page changes.
        assert response.text == original.replace("{{ backend_server_base_url }}", "/")


async def test_the_base_href_follows_the_base_url(gateway_client, make_settings):
    client = gateway_client(make_settings(base_url="/airflow/"))
    response = await client.get("/airflow/dags")
    assert response.status_code == 200 and '<base href="/airflow/" />' in response.text
    login = await client.get("/airflow/auth/login")
    assert '<base href="/airflow/" />' in login.text
    assert (await client.get("/airflow/api/v2/version")).json()["version"] == "3.2.2"
    assert (await client.get("/dags")).status_code == 404  # outside the prefix


async def test_hashed_assets_are_immutable_other_files_revalidate(offline, ui_dir):
    script = entry_script(ui_dir)
    response = await offline.get(f"/static/{script}")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in response.headers["content-type"]
    icon = await offline.get("/static/pin_32.png")
    assert icon.status_code == 200 and icon.headers["cache-control"] == "no-cache"
    locale = await offline.get("/static/i18n/locales/en/common.json", params={"v": "3.2.2"})
    assert locale.status_code == 200 and locale.headers["cache-control"] == "no-cache"


async def test_a_missing_static_file_is_404_json_not_the_page(offline):
    response = await offline.get("/static/assets/nope.js")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


async def test_the_login_page_and_its_assets(offline, ui_dir):
    page = await offline.get("/auth/login", params={"next": "/dags"})
    assert page.status_code == 200 and "<title>Airflow</title>" in page.text
    script = re.search(r'src="\./auth/static/(assets/index-[\w-]+\.js)"', page.text)[1]
    asset = await offline.get(f"/auth/static/{script}")
    assert asset.status_code == 200 and asset.headers["cache-control"].endswith("immutable")
    assert asset.content == (ui_dir / "auth" / script).read_bytes()


async def test_bodies_of_one_kib_and_more_are_gzipped(offline, ui_dir):
    big = await offline.get(f"/static/{entry_script(ui_dir)}", headers={"accept-encoding": "gzip"})
    assert big.headers["content-encoding"] == "gzip"
    small = await offline.get("/api/v2/version", headers={"accept-encoding": "gzip"})
    assert "content-encoding" not in small.headers


async def test_without_the_assets_pages_are_503_and_the_api_keeps_working(gateway_client, make_settings, tmp_path):
    client = gateway_client(make_settings(ui_dir=tmp_path / "nothing-here"))
    page = await client.get("/dags")
    assert page.status_code == 503 and "scripts/fetch-ui.sh" in page.text
    assert (await client.get("/auth/login")).status_code == 503
    assert (await client.get("/static/pin_32.png")).status_code == 503
    assert (await client.get("/api/v2/version")).status_code == 200


async def test_ui_config_is_airflow_3_2_2s_config_response(offline, token_for, contract):
    offline.cookies.set("_token", token_for("Viewer"))
    response = await offline.get("/ui/config")
    assert response.status_code == 200
    contract.validate("ConfigResponse", response.json(), spec="ui")
    assert response.json()["auto_refresh_interval"] == 3 and response.json()["enable_swagger_ui"] is False
