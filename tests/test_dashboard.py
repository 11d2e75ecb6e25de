"""The dashboard in a real headless Chromium (Debian's package, driven by Playwright)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import async_playwright
from tests.support import PATIENCE_S, client

from durchstarten.auth import Role
from durchstarten_deploy.stack import ServiceProcess, Stack

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def shown(cell: dict[str, Any]) -> str:
    return "." if cell["suppressed"] else str(cell["value"])


async def test_the_dashboard_renders_the_reported_numbers(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium package is required (.ci/run installs it)"
    reporting = services["reporting"].url
    token = stack.token(Role.COORDINATOR)
    async with client(stack, "reporting", Role.COORDINATOR) as http:
        data = (await http.get("/v1/dashboard/data")).json()
        plotly = await http.get("/static/plotly.min.js")
        assert plotly.headers["content-type"].startswith("text/javascript")

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_FLAGS, timeout=PATIENCE_S * 1000
        )
        try:
            page = await browser.new_page(viewport={"width": 1400, "height": 1100})
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            await page.goto(f"{reporting}/dashboard#token={token}")
            page.set_default_timeout(PATIENCE_S * 1000)
            await page.wait_for_selector("body[data-ready=true]")
            assert await page.locator(".js-plotly-plot").count() == 4
            assert await page.locator(".js-plotly-plot .trace").count() >= 4  # the charts drew
            assert await page.text_content("#error") == ""
            for table_id, key in (
                ("table-quarters", "quarters"),
                ("table-funnel", "funnel"),
                ("table-placements", "placements_by_category"),
                ("table-exams", "exam_results"),
            ):
                table = data[key]
                for r, row in enumerate(table["rows"]):
                    for c, column in enumerate(table["columns"]):
                        cell = page.locator(
                            f'#{table_id} tr[data-row="{row}"] td[data-col="{column}"]'
                        )
                        assert await cell.text_content() == shown(table["cells"][r][c]), (
                            key,
                            row,
                            column,
                        )
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
        finally:
            await browser.close()
    assert all(url.startswith(reporting) for url in requests)  # nothing from outside (no CDN)
    funnel = {row: data["funnel"]["cells"][i][0] for i, row in enumerate(data["funnel"]["rows"])}
    if not funnel["placed"]["suppressed"]:
        assert funnel["registered"]["value"] >= funnel["placed"]["value"]
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
