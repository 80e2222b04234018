"""The unmodified Airflow 3.2.2 UI, in headless Chromium, against Lite.

Given Lite with the browser test's DAG (tests/e2e/ui/dags/e2e_ui) run once, a user
logs in through Airflow's own login page and the test visits every page the
navigation reaches. A page passes when every /api and /ui call it made answered
2xx (save what stock Airflow answers otherwise, tests/e2e/ui/browser.py) and the
console stayed free of errors; each page is saved as test-artifacts/ui/<page>.png.
Then actions are taken through the UI — trigger with conf, pause, clear, mark,
delete, variables and connections — and checked through the REST API.

One browser and one logged-in admin page serve the whole module (launching
Chromium costs seconds); a Viewer gets a context of its own."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.e2e.driver import Driver
from tests.e2e.lite_process import LiteProcess
from tests.e2e.ui.browser import PageWatch, is_green, launch, log_in, new_page, screenshot, settle
from tests.e2e.ui.session import UI_DAG_TASKS, Seeded, create_user, push_and_run_ui_dag

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("lite")]

def judge(problems: list[str], page: str) -> None:
    """The page made no failed call and logged no error."""
    assert not problems, f"{page}:\n" + "\n".join(problems)


@dataclass
class Ui:
    lite: LiteProcess
    admin: Driver
    browser: Browser
    context: BrowserContext
    page: Page
    watch: PageWatch
    seeded: Seeded

    def url(self, path: str) -> str:
        return self.lite.url + path

    async def visit(self, path: str) -> None:
        self.watch.reset()
        await self.page.goto(self.url(path))
        await settle(self.page)


UI_CONNECTION = "ui_page_connection"


def p(value: str) -> str:
    return quote(value, safe="")


@pytest.fixture(scope="module")
async def ui(lite: LiteProcess, tmp_path_factory) -> AsyncIterator[Ui]:
    admin = await Driver.login(lite.url, "admin", lite.admin_password)
    seeded = await push_and_run_ui_dag(admin, tmp_path_factory.mktemp("ui-dags"), lite.home)
    # A connection of the module's own, for the connections page to show.
    await admin.request("DELETE", f"/api/v2/connections/{UI_CONNECTION}", expect=(204, 404))
    await admin.request("POST", "/api/v2/connections", expect=201, json={
        "connection_id": UI_CONNECTION, "conn_type": "http", "host": "api.example.com", "password": "never-shown",
    })
    async with async_playwright() as playwright:
        browser = await launch(playwright)
        context, page, watch = await new_page(browser, lite.url)
        # Every page load starts on the grid with the DAG's task group open (the UI
        # keeps both in localStorage; one test's clicks must not steer the next).
        await context.add_init_script(
            f"localStorage.setItem('dag_view-{seeded.dag_id}', JSON.stringify('grid'));"
            f"localStorage.setItem('{seeded.dag_id}/open-groups', JSON.stringify(['stats']));"
        )
        # Logged in once, through the real login page, for the whole module.
        await page.goto(lite.url + "/")
        await log_in(page, "admin", lite.admin_password)
        await page.wait_for_url(lite.url + "/")
        yield Ui(lite, admin, browser, context, page, watch, seeded)
        await context.close()
        await browser.close()


# -- login ------------------------------------------------------------------------


async def test_an_unauthenticated_visit_goes_to_the_login_page_and_back(ui: Ui):
    context, page, watch = await new_page(ui.browser, ui.lite.url)
    try:
        await page.goto(ui.url(f"/dags/{ui.seeded.dag_id}"))
        await page.wait_for_url(re.compile(r"/auth/login\?next="))
        assert "next=%2Fdags%2Fe2e_ui" in page.url
        # What sent the browser here: the UI's first call, refused for want of a token.
        assert [(c.path, c.status) for c in watch.failed_calls][:1] == [("/ui/config", 401)]
        await settle(page)
        await screenshot(page, "login")
        watch.reset()
        await log_in(page, "admin", ui.lite.admin_password)
        await page.wait_for_url(ui.url(f"/dags/{ui.seeded.dag_id}"))
        await page.get_by_text(ui.seeded.dag_id).first.wait_for()
        cookies = {c["name"]: c for c in await context.cookies()}
        assert "_token" in cookies
        await settle(page)
        judge(watch.problems(), "login")
    finally:
        await context.close()


async def test_a_wrong_password_stays_on_the_login_page(ui: Ui):
    context, page, watch = await new_page(ui.browser, ui.lite.url)
    try:
        await page.goto(ui.url("/"))
        await log_in(page, "admin", "not-the-password")
        await page.get_by_text(re.compile("invalid", re.IGNORECASE)).first.wait_for()
        assert "/auth/login" in page.url and not [c for c in await context.cookies() if c["name"] == "_token"]
        assert any(c.path == "/auth/token" and c.status == 401 for c in watch.failed_calls)
    finally:
        await context.close()


# -- every page -------------------------------------------------------------------

RUN = "{run}"
# (screenshot name, path, something the page shows once it rendered real data)
PAGES: list[tuple[str, str, str]] = [
    ("home", "/", "text=Active Dags"),
    ("dag_list", "/dags", "text=e2e_ui"),
    ("dag_overview", "/dags/e2e_ui", "text=Failed Runs"),
    ("dag_grid", "/dags/e2e_ui", f"[data-testid='grid-{RUN}-hello']"),
    ("dag_runs", "/dags/e2e_ui/runs", f"text={RUN}"),
    ("dag_tasks", "/dags/e2e_ui/tasks", "text=stats.total"),
    ("dag_calendar", "/dags/e2e_ui/calendar", "text=Calendar"),
    ("dag_backfills", "/dags/e2e_ui/backfills", "text=Backfills"),
    ("dag_events", "/dags/e2e_ui/events", "text=Audit Log"),
    ("dag_code", "/dags/e2e_ui/code", "text=hello from the UI test"),
    ("dag_details", "/dags/e2e_ui/details", "text=Latest Dag Version"),
    ("run", f"/dags/e2e_ui/runs/{RUN}", "text=stats.double__2"),
    ("run_details", f"/dags/e2e_ui/runs/{RUN}/details", "text=Run ID"),
    ("run_code", f"/dags/e2e_ui/runs/{RUN}/code", "text=hello from the UI test"),
    ("task_group", f"/dags/e2e_ui/runs/{RUN}/tasks/group/stats", "text=stats.total"),
    ("ti_logs", f"/dags/e2e_ui/runs/{RUN}/tasks/stats.total", "text=total of the doubled numbers: 12"),
    ("ti_xcom", f"/dags/e2e_ui/runs/{RUN}/tasks/stats.total/xcom", "text=return_value"),
    ("ti_rendered_templates", f"/dags/e2e_ui/runs/{RUN}/tasks/hello/rendered_templates", "text=bash_command"),
    ("ti_details", f"/dags/e2e_ui/runs/{RUN}/tasks/hello/details", "text=BashOperator"),
    ("task", "/dags/e2e_ui/tasks/hello", "text=BashOperator"),
    # The browse lists hold every DAG of the shared Lite: a state badge shows they rendered
    # rows of real data (the seeded run may be past their first page).
    ("browse_dag_runs", "/dag_runs", "text=Success"),
    ("browse_task_instances", "/task_instances", "text=Success"),
    ("browse_audit_log", "/events", "text=Audit Log"),
    ("browse_xcoms", "/xcoms", "text=return_value"),
    ("admin_variables", "/variables", "text=Variables"),
    ("admin_connections", "/connections", f"text={UI_CONNECTION}"),
    ("admin_pools", "/pools", "text=default_pool"),
    ("admin_providers", "/providers", "text=Providers"),
    ("admin_plugins", "/plugins", "text=Plugins"),
    ("admin_config", "/configs", "text=Config"),
]


@pytest.mark.parametrize(("name", "path", "shows"), PAGES, ids=[name for name, _, _ in PAGES])
async def test_every_page_renders_without_errors(ui: Ui, name: str, path: str, shows: str):
    run = ui.seeded.run_id
    await ui.visit(path.replace(RUN, p(run)))
    target = ui.page.locator(shows.replace(RUN, run)).first
    try:
        await target.wait_for(timeout=15_000)
    except Exception:
        await screenshot(ui.page, name)
        judge(ui.watch.problems(), name)  # a failed call is the likelier reason it shows nothing
        raise
    await settle(ui.page)
    await screenshot(ui.page, name)
    judge(ui.watch.problems(), name)


async def test_the_graph_view_draws_the_tasks_and_the_group(ui: Ui):
    await ui.visit(f"/dags/{ui.seeded.dag_id}")
    await ui.page.get_by_role("button", name=re.compile("Show Graph")).click()
    await ui.page.locator(".react-flow__node", has_text="total").first.wait_for()
    await settle(ui.page)
    labels = await ui.page.locator(".react-flow__node").all_inner_texts()
    edges = await ui.page.locator(".react-flow__edge").count()
    await screenshot(ui.page, "dag_graph")
    names = {label.split()[0] for label in labels if label.strip()}
    assert {"hello", "stats", "double", "double__1", "double__2", "total"} <= names, labels
    # hello feeds every task the group starts with, so the UI draws one edge into
    # the group (its own bundling of such edges), plus the ones it keeps inside.
    assert edges >= 1
    judge(ui.watch.problems(), "dag_graph")


# -- actions ----------------------------------------------------------------------


async def grid_cells_are_green(page: Page, run_id: str, task_ids: tuple[str, ...]) -> list[str]:
    """Task ids whose grid cell for `run_id` is not (yet) green."""
    not_green = []
    for task_id in task_ids:
        cell = page.locator(f"[data-testid='grid-{run_id}-{task_id}'] [data-testid='task-state-badge']")
        if await cell.count() == 0:
            not_green.append(task_id)
            continue
        colour = await cell.first.evaluate("e => getComputedStyle(e).backgroundColor")
        if not is_green(colour):
            not_green.append(f"{task_id} ({colour})")
    return not_green


async def test_trigger_with_conf_from_the_dialog_and_watch_the_grid_turn_green(ui: Ui):
    page = ui.page
    await ui.visit(f"/dags/{ui.seeded.dag_id}")
    await page.get_by_test_id("trigger-dag-button").click()
    await page.locator("input[name=element_count]").fill("4")
    async with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/dagRuns")) as posted:
        await page.get_by_test_id("trigger-dag-submit").click()
    response = await posted.value
    assert response.status == 200, await response.text()
    run_id = (await response.json())["dag_run_id"]

    await ui.visit(f"/dags/{ui.seeded.dag_id}")
    pending = list(UI_DAG_TASKS)
    for _ in range(240):  # the UI refreshes the grid itself every auto_refresh_interval
        pending = await grid_cells_are_green(page, run_id, UI_DAG_TASKS)
        if not pending:
            break
        await page.wait_for_timeout(500)
    await screenshot(page, "grid_after_trigger")
    assert not pending, f"grid cells not green: {pending}"
    run = await ui.admin.run(ui.seeded.dag_id, run_id)
    assert run["state"] == "success" and run["conf"] == {"count": 4}
    assert await ui.admin.xcom(ui.seeded.dag_id, run_id, "stats.total") == 12
    judge(ui.watch.problems(), "grid_after_trigger")


async def test_pause_and_unpause_with_the_toggle(ui: Ui):
    page = ui.page
    await ui.visit(f"/dags/{ui.seeded.dag_id}")
    toggle = page.get_by_test_id("toggle-pause").first
    for expected in (True, False):
        async with page.expect_response(lambda r: r.request.method == "PATCH" and f"/api/v2/dags/{ui.seeded.dag_id}" in r.url) as patched:
            await toggle.click()
        assert (await patched.value).status == 200
        dag = (await ui.admin.request("GET", f"/api/v2/dags/{ui.seeded.dag_id}")).json()
        assert dag["is_paused"] is expected
    judge(ui.watch.problems(), "pause")


async def test_mark_a_task_failed_then_clear_it_then_mark_the_run(ui: Ui):
    page = ui.page
    dag_id = ui.seeded.dag_id
    run = await ui.admin.trigger(dag_id, {"count": 2})
    run_id = run["dag_run_id"]
    await ui.admin.wait_run_finished(dag_id, run_id)

    # Mark one task instance failed, from its page.
    await ui.visit(f"/dags/{dag_id}/runs/{p(run_id)}/tasks/hello")
    await page.get_by_role("button", name="Mark Task Instance as...").first.click()
    await page.get_by_role("menuitem").filter(has_text="Failed").first.click()
    async with page.expect_response(lambda r: r.request.method == "PATCH" and "/taskInstances/hello" in r.url and "dry_run" not in r.url) as marked:
        await page.get_by_role("button", name="Confirm").click()
    assert (await marked.value).status == 200, await (await marked.value).text()
    assert (await ui.admin.task_states(dag_id, run_id))["hello"] == "failed"

    # Clear it: the scheduler runs it again.
    await page.get_by_role("button", name="Clear Task Instance").first.click()
    async with page.expect_response(lambda r: r.request.method == "POST" and "/clearTaskInstances" in r.url and r.request.post_data_json.get("dry_run") is False) as cleared:
        await page.get_by_role("button", name="Confirm").click()
    assert (await cleared.value).status == 200, await (await cleared.value).text()
    finished = await ui.admin.wait_run_finished(dag_id, run_id)
    assert (await ui.admin.task_states(dag_id, run_id))["hello"] == "success", finished

    # Mark the whole run failed, from the run's page.
    await ui.visit(f"/dags/{dag_id}/runs/{p(run_id)}")
    await page.get_by_test_id("mark-run-as-button").click()
    await page.get_by_test_id("mark-run-as-failed").click()
    async with page.expect_response(lambda r: r.request.method == "PATCH" and "/dagRuns/" in r.url) as patched:
        await page.get_by_test_id("mark-run-as-confirm").click()
    assert (await patched.value).status == 200, await (await patched.value).text()
    assert (await ui.admin.run(dag_id, run_id))["state"] == "failed"
    await screenshot(page, "run_marked_failed")
    judge(ui.watch.problems(), "mark_and_clear")


async def saved(response) -> None:
    """Assert an edit form's PATCH succeeded (the forms send team_name "" for "no team",
    which Airflow accepts without multi-team mode, and so does the gateway)."""
    assert response.status == 200, await response.text()


def row_of(page: Page, text: str):
    """The table row showing `text` (admin lists are tables)."""
    return page.locator("tr", has_text=text).first


async def confirm_deletion(page: Page, method_path: str) -> int:
    """Click the dialog's delete button; the status of the DELETE it sends."""
    async with page.expect_response(lambda r: r.request.method == "DELETE" and method_path in r.url) as deleted:
        await page.get_by_role("dialog").get_by_role("button", name=re.compile("delete", re.IGNORECASE)).last.click()
    return (await deleted.value).status


async def test_variables_are_created_edited_and_deleted_from_the_ui(ui: Ui):
    page = ui.page
    key = f"ui_var_{uuid.uuid4().hex[:6]}"
    await ui.visit("/variables")
    await page.get_by_role("button", name="Add Variable").click()
    await page.locator("input[name=key]").fill(key)
    await page.locator("textarea[name=value]").fill('{"answer": 42}')
    async with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/api/v2/variables")) as created:
        await page.get_by_role("button", name="Save").click()
    assert (await created.value).status == 201, await (await created.value).text()
    stored = (await ui.admin.request("GET", f"/api/v2/variables/{key}")).json()
    assert json.loads(stored["value"]) == {"answer": 42}

    await row_of(page, key).get_by_role("button", name="Edit Variable").click()
    await page.locator("textarea[name=value]").fill("plain text now")
    async with page.expect_response(lambda r: r.request.method == "PATCH" and f"/api/v2/variables/{key}" in r.url) as edited:
        await page.get_by_role("button", name="Save").click()
    await saved(await edited.value)
    assert (await ui.admin.request("GET", f"/api/v2/variables/{key}")).json()["value"] == "plain text now"

    await row_of(page, key).get_by_role("button", name="Delete Variable").click()
    assert await confirm_deletion(page, f"/api/v2/variables/{key}") == 204
    await ui.admin.request("GET", f"/api/v2/variables/{key}", expect=404)
    await screenshot(page, "admin_variables_after_actions")
    judge(ui.watch.problems(), "variables")


async def test_connections_from_the_ui_never_send_the_password_back(ui: Ui):
    page = ui.page
    conn_id = f"ui_conn_{uuid.uuid4().hex[:6]}"
    secret = f"s3cr3t-{uuid.uuid4().hex[:8]}"
    bodies: list[str] = []

    async def keep(response):
        if "/api/v2/connections" in response.url:
            try:
                bodies.append(await response.text())
            except Exception:  # noqa: BLE001 - a response without a body (204)
                pass

    await ui.visit("/connections")
    page.on("response", keep)
    try:
        await page.get_by_role("button", name="Add Connection").click()
        await page.locator("input[name=connection_id]").fill(conn_id)
        kind = page.get_by_role("combobox").first
        await kind.click()
        await kind.fill("Postgres")
        await page.get_by_role("option", name="Postgres").first.click()
        await page.locator("input[name=host]").fill("db.example.com")
        await page.locator("input[name=login]").fill("reader")
        await page.locator("input[name=password]").fill(secret)
        await page.locator("input[name=port]").fill("5432")
        await page.locator("input[name=schema]").fill("sales")
        async with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/api/v2/connections")) as created:
            await page.get_by_role("button", name="Save").click()
        assert (await created.value).status == 201, await (await created.value).text()
        stored = (await ui.admin.request("GET", f"/api/v2/connections/{conn_id}")).json()
        assert (stored["conn_type"], stored["host"], stored["login"], stored["port"], stored["schema"]) == (
            "postgres", "db.example.com", "reader", 5432, "sales",
        )

        await row_of(page, conn_id).get_by_role("button", name="Edit Connection").click()
        await page.locator("input[name=host]").fill("db2.example.com")
        async with page.expect_response(lambda r: r.request.method == "PATCH" and f"/api/v2/connections/{conn_id}" in r.url) as edited:
            await page.get_by_role("button", name="Save").click()
        await saved(await edited.value)
        assert (await ui.admin.request("GET", f"/api/v2/connections/{conn_id}")).json()["host"] == "db2.example.com"

        await row_of(page, conn_id).get_by_role("button", name="Delete Connection").click()
        assert await confirm_deletion(page, f"/api/v2/connections/{conn_id}") == 204
        await ui.admin.request("GET", f"/api/v2/connections/{conn_id}", expect=404)
    finally:
        page.remove_listener("response", keep)
    assert bodies, "the page read the connections"
    leaked = [body[:200] for body in bodies if secret in body]
    assert not leaked, f"the password reached the browser: {leaked}"
    judge(ui.watch.problems(), "connections")


async def test_delete_a_dag_from_its_page(ui: Ui):
    page = ui.page
    # One of Lite's examples, so the other tests keep their DAG.
    await ui.admin.request("GET", "/api/v2/dags/hparam_search")
    await ui.visit("/dags/hparam_search")
    await page.get_by_role("button", name="Delete Dag").click()
    async with page.expect_response(lambda r: r.request.method == "DELETE" and r.url.endswith("/api/v2/dags/hparam_search")) as deleted:
        await page.get_by_role("button", name=re.compile("Delete", re.IGNORECASE)).last.click()
    assert (await deleted.value).status in (200, 204)
    await page.wait_for_url(ui.url("/dags"))
    await ui.admin.request("GET", "/api/v2/dags/hparam_search", expect=404)
    # Queries of the deleted DAG's page still in flight when it went answer 404, as Airflow's do.
    gone = [problem for problem in ui.watch.problems() if "hparam_search" not in problem or " -> 404 " not in problem]
    judge(gone, "delete_dag")


# -- a Viewer ---------------------------------------------------------------------


async def test_a_viewer_sees_pages_but_an_action_is_refused_with_a_toast(ui: Ui):
    await create_user(ui.lite, ui.admin, "ui_viewer", "viewer-password", "Viewer")
    context, page, watch = await new_page(ui.browser, ui.lite.url)
    try:
        await page.goto(ui.url(f"/dags/{ui.seeded.dag_id}"))
        await log_in(page, "ui_viewer", "viewer-password")
        await page.wait_for_url(ui.url(f"/dags/{ui.seeded.dag_id}"))
        await settle(page)
        watch.reset()
        async with page.expect_response(lambda r: r.request.method == "PATCH" and f"/api/v2/dags/{ui.seeded.dag_id}" in r.url) as refused:
            await page.get_by_test_id("toggle-pause").first.click()
        assert (await refused.value).status == 403
        toast_box = page.locator("[data-scope=toast][data-part=root]").first
        await toast_box.wait_for()
        toast = await toast_box.inner_text()
        await screenshot(page, "viewer_refused")
        assert toast.strip(), "the refusal shows a toast"
        # The page is still there, not an error screen.
        await page.get_by_text(ui.seeded.dag_id).first.wait_for()
        dag = (await ui.admin.request("GET", f"/api/v2/dags/{ui.seeded.dag_id}")).json()
        assert dag["is_paused"] is False
        judge(watch.problems(expected=[(f"/api/v2/dags/{ui.seeded.dag_id}", 403)]), "viewer_refused")
    finally:
        await context.close()
