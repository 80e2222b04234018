"""Lite's /ide editor against a running Lite: the file API refuses every path
outside the workspace; files saved through it are hot-reloaded into DAG versions;
and in a real browser, behind the UI's login page, a save registers a new version
and a broken save shows its import error."""

from __future__ import annotations

import os
import re

import httpx
import pytest
from leoflow_common.testing import assert_eventually
from playwright.async_api import async_playwright

from tests.e2e.driver import Driver
from tests.e2e.ui.browser import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("lite")]

EDITOR = {"X-Leoflow-IDE": "1"}
DAG_ID = "ide_demo"
DAG_PY = f'''from airflow.sdk import DAG, task


@task
def hello() -> str:
    return "hello from the editor"


with DAG("{DAG_ID}", schedule=None):
    hello()
'''


async def ide_client(lite) -> httpx.AsyncClient:
    driver = await Driver.login(lite.url, "admin", lite.admin_password)
    return httpx.AsyncClient(base_url=lite.url, headers={"Authorization": f"Bearer {driver.token}", **EDITOR}, timeout=30)


async def latest_version(driver: Driver, dag_id: str) -> int:
    response = await driver.request("GET", f"/api/v2/dags/{dag_id}/dagVersions", params={"order_by": "-version_number", "limit": 1},
                                    expect=(200, 404))
    versions = response.json().get("dag_versions", []) if response.status_code == 200 else []
    return versions[0]["version_number"] if versions else 0


async def test_the_editor_refuses_paths_outside_the_workspace(lite, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("secret\n")
    link = lite.workspace / "link_out"
    os.symlink(outside, link)
    try:
        async with await ide_client(lite) as http:
            tree = (await http.get("/ide/api/tree")).json()
            assert "link_out" not in {e["path"] for e in tree["entries"]}
            for path in ("/etc/passwd", "../outside/secret.txt", "etl_sales/../../outside/secret.txt", "link_out/secret.txt",
                         "link_out", "..", "etl_sales\\..\\..\\x"):
                assert (await http.get("/ide/api/file", params={"path": path})).status_code == 400, path
                assert (await http.put("/ide/api/file", params={"path": path}, json={"content": "pwned"})).status_code == 400, path
                assert (await http.delete("/ide/api/entries", params={"path": path})).status_code == 400, path
                moved = await http.post("/ide/api/rename", json={"from": "etl_sales/dag.py", "to": path})
                assert moved.status_code == 400, path
            made = await http.post("/ide/api/entries", json={"path": "link_out/new.py", "type": "file"})
            assert made.status_code == 400
        assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
        assert (outside / "secret.txt").read_text() == "secret\n"
        assert (lite.workspace / "etl_sales" / "dag.py").is_file()
    finally:
        link.unlink()


async def test_a_dag_written_through_the_editor_is_registered_and_runs(lite):
    driver = await Driver.login(lite.url, "admin", lite.admin_password)
    async with await ide_client(lite) as http:
        assert (await http.post("/ide/api/entries", json={"path": DAG_ID, "type": "dir"})).status_code == 201
        assert (await http.put("/ide/api/file", params={"path": f"{DAG_ID}/dag.py"}, json={"content": DAG_PY})).status_code == 200
        project = {"content": f'dag_id: {DAG_ID}\npython_version: "3.11"\n'}
        assert (await http.put("/ide/api/file", params={"path": f"{DAG_ID}/leoflow.yaml"}, json=project)).status_code == 200

    async def registered():
        return await latest_version(driver, DAG_ID) == 1

    await assert_eventually(registered, timeout=120, interval=0.1, message=f"{DAG_ID} registered")
    run = await driver.trigger(DAG_ID)
    finished = await driver.wait_run_finished(DAG_ID, run["dag_run_id"])
    assert finished["state"] == "success"
    assert await driver.xcom(DAG_ID, run["dag_run_id"], "hello") == "hello from the editor"


async def test_the_editor_in_a_browser_saves_and_shows_import_errors(lite):
    driver = await Driver.login(lite.url, "admin", lite.admin_password)
    if await latest_version(driver, DAG_ID) == 0:
        await test_a_dag_written_through_the_editor_is_registered_and_runs(lite)
    before = await latest_version(driver, DAG_ID)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            # Behind the UI's login: the login page, then back to the editor.
            await page.goto(f"{lite.url}/ide/")
            await page.fill("input[name=username]", "admin")
            await page.fill("input[name=password]", lite.admin_password)
            await page.click("button:has-text('Sign in')")
            await page.wait_for_url(re.compile(r".*/ide/$"), timeout=30000)
            await page.click(f"#tree .row:has-text('{DAG_ID}')")
            await page.click("#tree .row:has-text('dag.py') >> nth=0")
            await page.wait_for_selector(".cm-content")
            assert "hello from the editor" in await page.inner_text(".cm-content")
            # Python is highlighted (CodeMirror wraps tokens in styled spans).
            assert await page.locator(".cm-content span").count() > 5

            await page.click(".cm-content")
            await page.keyboard.press("Control+End")
            await page.keyboard.type("# saved from the browser\n")
            await page.keyboard.press("Control+s")
            await page.wait_for_selector(f"#status:has-text('version {before + 1} registered')", timeout=60000)
            assert "# saved from the browser" in (lite.workspace / DAG_ID / "dag.py").read_text()
            assert await latest_version(driver, DAG_ID) == before + 1

            await page.keyboard.type("broken = 1 +\n")  # ("(" would be auto-closed by the editor)
            await page.keyboard.press("Control+s")
            await page.wait_for_selector("#status:has-text('import error')", timeout=60000)
            await page.wait_for_selector(f"#problems li:has-text('{DAG_ID}/dag.py')", timeout=15000)
            assert "syntax" in (await page.inner_text("#problems")).lower()
            assert await latest_version(driver, DAG_ID) == before + 1  # the last good version stays

            # Fixed in the editor: the error goes away.
            await page.keyboard.press("Backspace")
            await page.keyboard.press("Shift+Home")
            await page.keyboard.press("Backspace")
            await page.keyboard.press("Control+s")
            await page.wait_for_selector("#problem-count:text-is('0')", timeout=60000)
        finally:
            await browser.close()
    assert errors == []
