"""`/docs` and `/redoc` render with no internet, and Swagger UI's "Try it out" works with a
key entered under Authorize: the scripts come from the installed package, not a CDN."""

from __future__ import annotations

from pathlib import Path

from playwright.async_api import Page

from parley.config import Settings
from parley.server.runner import serving
from tests.browser.conftest import OfflinePage, screenshots

KEY = "pk_docs_browser_key_0123456789"


async def try_out(page: Page, operation_id: str) -> tuple[str, str]:
    """Open an operation, press Try it out and Execute: the status and body it shows."""
    operation = page.locator(f"#operations-{operation_id}")
    await operation.locator(".opblock-summary").click()
    try_it = operation.get_by_role("button", name="Try it out")
    if await try_it.count():  # `tryItOutEnabled` opens it already
        await try_it.click()
    await operation.get_by_role("button", name="Execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    await status.wait_for(timeout=20_000)
    body = await operation.locator(".live-responses-table .microlight").first.inner_text()
    return (await status.inner_text()).strip(), body


async def test_swagger_ui_renders_offline_and_tries_an_authenticated_call(
    offline_page: OfflinePage, tmp_path: Path
) -> None:
    page = offline_page.page
    async with serving(Settings(data_dir=tmp_path, api_keys=(KEY,), admission=False)) as base:
        await page.goto(f"{base}/docs")
        await page.get_by_role("heading", name="Parley").first.wait_for(timeout=20_000)

        await page.get_by_role("button", name="Authorize").first.click()
        await page.locator("#auth-bearer-value").fill(KEY)
        await page.get_by_role("button", name="Apply credentials").first.click()
        await page.locator(".modal-ux .btn-done").first.click()

        answered, body = await try_out(page, "agents-list_agents_v1_agents_get")
        await page.screenshot(path=str(screenshots(tmp_path) / "api-docs-try-it-out.png"))

    assert answered == "200", body
    assert '"total"' in body
    assert offline_page.outside == []


async def test_swagger_ui_without_a_key_shows_the_documented_401(
    offline_page: OfflinePage, tmp_path: Path
) -> None:
    page = offline_page.page
    async with serving(Settings(data_dir=tmp_path, api_keys=(KEY,), admission=False)) as base:
        await page.goto(f"{base}/docs")
        answered, body = await try_out(page, "agents-list_agents_v1_agents_get")

    assert answered.startswith("401"), body
    assert '"unauthorized"' in body
    assert offline_page.outside == []


async def test_redoc_renders_offline(offline_page: OfflinePage, tmp_path: Path) -> None:
    page = offline_page.page
    async with serving(Settings(data_dir=tmp_path, api_keys=(KEY,), admission=False)) as base:
        await page.goto(f"{base}/redoc")
        title = page.locator("h1", has_text="Parley")
        await title.first.wait_for(timeout=30_000)
        text = await page.locator("body").inner_text()

    assert "/v1/agents" in text
    assert offline_page.outside == []
