"""GatewayApp runs uvicorn in-process: PORT=0 binds a free port, reported as http_port."""

from __future__ import annotations

import httpx
from leoflow_api_gateway import GatewayApp


async def test_start_serves_http_on_the_bound_port_and_stop_releases_it(make_settings, ui_dir):
    app = GatewayApp(make_settings(port=0))
    await app.start()
    try:
        assert app.http_port and app.http_port > 0
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.http_port}") as client:
            version = await client.get("/api/v2/version")
            assert version.status_code == 200 and version.json()["version"] == "3.2.2"
            page = await client.get("/dags")
            assert page.status_code == 200 and '<base href="/" />' in page.text
    finally:
        await app.stop()
    async with httpx.AsyncClient() as client:
        try:
            await client.get(f"http://127.0.0.1:{app.http_port}/api/v2/version")
        except httpx.ConnectError:
            pass
        else:
            raise AssertionError("the gateway still answers after stop()")
