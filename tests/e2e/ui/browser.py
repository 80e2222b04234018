"""Driving the real Airflow UI in Debian's Chromium (headless, through Playwright's
async API) and watching what it does: every response the page gets from the
gateway, every console error and every uncaught exception.

A page is healthy when none of its /api or /ui calls answered outside 2xx (save
the few Airflow itself answers so by default, ALLOWED_FAILURES) and nothing was
logged as an error. Screenshots go to test-artifacts/ui/<name>.png."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, Response

REPO = Path(__file__).resolve().parents[3]
ARTIFACTS = REPO / "test-artifacts" / "ui"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


@dataclass(frozen=True)
class Allowed:
    """A non-2xx answer stock Airflow gives too, and why."""

    path: re.Pattern[str]
    status: int
    reason: str


ALLOWED_FAILURES: tuple[Allowed, ...] = (
    Allowed(
        re.compile(r"^/static/wasm/"),
        404,
        "Airflow 3.2.2's rendered-templates page asks for sqlparser_rs_wasm.js, which its own build does not ship",
    ),
    Allowed(re.compile(r"^/api/v2/config$"), 403, "Admin > Config: Airflow answers 403 while [api] expose_config is off"),
)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    status: int
    body: str = ""

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status} {self.body[:200]}"


@dataclass
class PageWatch:
    """What one page did since the last reset()."""

    origin: str
    failed_calls: list[Call] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("response", self._on_response)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.console_errors.append(f"uncaught: {error}"))

    def reset(self) -> None:
        self.failed_calls.clear()
        self.console_errors.clear()
        self.calls.clear()

    async def _on_response(self, response: Response) -> None:
        parts = urlsplit(response.url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            return
        path = parts.path
        call = Call(response.request.method, path + (f"?{parts.query}" if parts.query else ""), response.status)
        self.calls.append(call)
        if 200 <= response.status < 400:
            return
        try:
            body = (await response.text())[:300]
        except Exception:  # noqa: BLE001 - the body of a navigation may be gone already
            body = ""
        call = Call(call.method, call.path, call.status, body)
        if not any(a.status == response.status and a.path.search(path) for a in ALLOWED_FAILURES):
            self.failed_calls.append(call)

    def _on_console(self, message: ConsoleMessage) -> None:
        # "Failed to load resource" repeats a failed response, which is judged above
        # (with the allowed ones); any other error is the page's own.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console_errors.append(message.text[:500])

    def problems(self, *, expected: Iterable[tuple[str, int]] = ()) -> list[str]:
        """Failed calls and console errors; `expected`: (path prefix, status) this
        check itself provokes (a refused action), not counted."""
        wanted = list(expected)
        failed = [c for c in self.failed_calls if not any(c.path.startswith(p) and c.status == s for p, s in wanted)]
        return [str(c) for c in failed] + [f"console: {e}" for e in self.console_errors]

    def responses_to(self, method: str, path_prefix: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and c.path.startswith(path_prefix)]


async def launch(playwright: Playwright) -> Browser:
    return await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


async def new_page(browser: Browser, origin: str) -> tuple[BrowserContext, Page, PageWatch]:
    context = await browser.new_context(viewport={"width": 1440, "height": 900}, locale="en-US", timezone_id="UTC")
    page = await context.new_page()
    page.set_default_timeout(30_000)
    watch = PageWatch(origin)
    watch.attach(page)
    return context, page, watch


async def log_in(page: Page, username: str, password: str) -> None:
    """Fill Airflow's own login page (the simple auth manager's) and submit it."""
    await page.wait_for_url(re.compile(r"/auth/login"))
    await page.locator("input[name=username]").fill(username)
    await page.locator("input[name=password]").fill(password)
    await page.keyboard.press("Enter")


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    target = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(target), full_page=False)
    return target


async def settle(page: Page) -> None:
    """Wait until the page stopped fetching (the UI's first round of calls), plus
    a moment for React to render what came back."""
    await page.wait_for_load_state("networkidle")
    await page.wait_for_timeout(300)


def is_green(colour: str) -> bool:
    """A computed CSS colour that reads as green (the UI's success colour): oklch()
    with a green hue, as the 3.2 UI's theme gives, or an rgb() whose green leads."""
    numbers = [float(n) for n in re.findall(r"[\d.]+", colour)]
    if colour.startswith("oklch(") and len(numbers) >= 3:
        _, chroma, hue = numbers[:3]
        return chroma > 0.05 and 115 <= hue <= 170
    if colour.startswith("rgb") and len(numbers) >= 3:
        red, green, blue = numbers[:3]
        return green > 90 and green > red * 1.3 and green > blue * 1.3
    return False
