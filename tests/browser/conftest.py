"""A real browser for the tests: Debian's Chromium driven by Playwright.

Playwright's own browser download cannot work on an offline host, so the system's
`chromium` is launched by path (`PARLEY_CHROMIUM` to use another). Every request the page
makes to a host other than the server under test is refused and recorded: the pages must
work offline, and a test fails when one reaches for the internet. Without a browser the
tests skip, unless `PARLEY_REQUIRE_BROWSER` is set (as `.ci/run` does), when they fail.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

playwright_api = pytest.importorskip("playwright.async_api")


DOCS_SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def screenshots(tmp_path: Path) -> Path:
    """Where a test's screenshots go: docs/screenshots with `PARLEY_SCREENSHOTS=1` (to
    refresh the committed ones), else the test's own directory."""
    folder = DOCS_SHOTS if os.environ.get("PARLEY_SCREENSHOTS") else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def chromium_path() -> str | None:
    return os.environ.get("PARLEY_CHROMIUM") or shutil.which("chromium")


@dataclass
class OfflinePage:
    """A page whose requests off the loopback host are aborted and listed in `outside`."""

    page: playwright_api.Page
    outside: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


def require_chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("PARLEY_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required but not installed (apt-get install chromium)")
        pytest.skip("Chromium is not installed")
    return path


BASE_ARGS = ["--no-sandbox", "--disable-dev-shm-usage"]


@pytest.fixture
async def browser() -> AsyncIterator[playwright_api.Browser]:
    path = require_chromium()
    async with playwright_api.async_playwright() as driver:
        launched = await driver.chromium.launch(executable_path=path, args=BASE_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


MicBrowser = Callable[[Path], Awaitable[playwright_api.Browser]]


@pytest.fixture
async def browser_with_mic() -> AsyncIterator[MicBrowser]:
    """`await browser_with_mic(wav)`: a Chromium whose microphone plays `wav` (in a loop, from
    when the page opens it), granted without asking, and which may play sound unprompted."""
    path = require_chromium()
    async with playwright_api.async_playwright() as driver:
        launched: list[playwright_api.Browser] = []

        async def launch(wav: Path) -> playwright_api.Browser:
            browser = await driver.chromium.launch(
                executable_path=path,
                args=[
                    *BASE_ARGS,
                    "--use-fake-ui-for-media-stream",
                    "--use-fake-device-for-media-stream",
                    f"--use-file-for-fake-audio-capture={wav}",
                    "--autoplay-policy=no-user-gesture-required",
                ],
            )
            launched.append(browser)
            return browser

        try:
            yield launch
        finally:
            for browser in launched:
                await browser.close()


async def watched(page: playwright_api.Page) -> OfflinePage:
    """Refuse and record the page's requests off the loopback host, and collect its console
    errors."""
    seen = OfflinePage(page)

    async def only_loopback(route: playwright_api.Route) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host in {"127.0.0.1", "localhost"} or route.request.url.startswith("data:"):
            await route.continue_()
        else:
            seen.outside.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_loopback)
    page.on("console", lambda m: seen.console_errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: seen.console_errors.append(f"uncaught: {exc}"))
    return seen


@pytest.fixture
async def offline_page(browser: playwright_api.Browser) -> AsyncIterator[OfflinePage]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    try:
        yield await watched(page)
    finally:
        await context.close()
