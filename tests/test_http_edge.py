"""The HTTP edge of the real service processes: caps, rate limits, pages, docs, metrics, headers."""

from __future__ import annotations

import re
import shutil
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import async_playwright
from tests.support import PATIENCE_S, client, post, unique_person, v2_registration

from durchstarten.auth import Role
from durchstarten.http_edge import CONTENT_SECURITY_POLICY
from durchstarten_deploy.stack import SERVICES, ServiceProcess, Stack
from durchstarten_deploy.testing import TEST_PROVIDERS

pytestmark = pytest.mark.integration

ALPHA, BETA = TEST_PROVIDERS
DEFAULT_CAP = 256 * 1024


async def walk(
    http: httpx.AsyncClient, path: str, rows: str, limit: int, **params: Any
) -> tuple[list[dict[str, Any]], int]:
    """Every row of a list endpoint, page by page; and how many pages it took."""
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {**params, "limit": limit} | ({"cursor": cursor} if cursor else {})
        answer = await http.get(path, params=query)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert len(body[rows]) <= limit
        seen += body[rows]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return seen, pages


async def whole(
    http: httpx.AsyncClient, path: str, rows: str, **params: Any
) -> list[dict[str, Any]]:
    """A list endpoint's rows in one page (the test lists are far below the largest page)."""
    answer = await http.get(path, params={**params, "limit": 500})
    assert answer.json()["next_cursor"] is None
    listed: list[dict[str, Any]] = answer.json()[rows]
    return listed


async def test_a_body_over_the_cap_is_refused_declared_or_chunked(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    async def chunked() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b" " * 16384  # 640 KiB in all, no Content-Length

    async with client(stack, "intake", Role.PROVIDER, ALPHA) as intake:
        declared = await intake.post("/v1/commands", content=b" " * (DEFAULT_CAP + 1))
        streamed = await intake.post("/v1/commands", content=chunked())
        below = await intake.post("/v1/commands", content=b"{" + b" " * 1000)
    for refused in (declared, streamed):
        assert refused.status_code == 413
        assert refused.json()["reason"] == "body-too-large"
        assert refused.json()["max_bytes"] == DEFAULT_CAP
    assert below.status_code == 422  # read, and refused for what it says, not for its size


async def test_every_list_walks_page_by_page_each_row_once(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    pending = []
    for _ in range(5):
        too_old = v2_registration(ALPHA, birth_date="1990-01-01")
        pending.append((await post(stack, too_old, Role.PROVIDER, ALPHA)).json()["participant_id"])
    person = unique_person()
    namesakes = []
    for born in ("1996-05-01", "1999-05-01", "2002-05-01"):
        same_name = v2_registration(ALPHA, **(person | {"birth_date": born}))
        namesakes.append((await post(stack, same_name, Role.PROVIDER, ALPHA)).json())
    namesake_ids = {n["participant_id"] for n in namesakes}

    lists: list[tuple[str, str, str, dict[str, Any]]] = [
        ("intake", "/v1/coordination/pending-exceptions", "pending", {}),
        ("intake", "/v1/coordination/possible-duplicates", "open", {}),
        ("coaching", "/v1/due/referrals", "due", {"on": "2030-01-01"}),
        ("coaching", "/v1/due/follow-ups", "due", {"on": "2030-01-01"}),
    ]
    for service, path, rows, params in lists:
        async with client(stack, service, Role.COORDINATOR) as http:
            everything = await whole(http, path, rows, **params)
            for limit in (1, 2, 3):
                walked, pages = await walk(http, path, rows, limit, **params)
                assert walked == everything, (path, limit)  # each row once, in the same order
                assert pages == max(1, -(-len(everything) // limit)), (path, limit)
            assert (await http.get(path, params={"limit": 501})).status_code == 422
            assert (await http.get(path, params={"cursor": "bm90LWEtY3Vyc29y"})).status_code == 400

    async with client(stack, "intake", Role.COORDINATOR) as intake:
        listed, _ = await walk(intake, "/v1/coordination/pending-exceptions", "pending", 2)
        ids = [row["participant_id"] for row in listed]
        assert len(ids) == len(set(ids))
        assert [pid for pid in ids if pid in pending] == pending  # oldest first
        search = {"name": f"{person['given_name']} {person['family_name']}"}
        intake.headers["X-Purpose"] = "test of the search's pages"
        found, pages = await walk(intake, "/v1/participants", "results", 1, **search)
        assert {r["participant_id"] for r in found} >= namesake_ids
        assert len(found) == len({r["participant_id"] for r in found}) == pages
        assert found == await whole(intake, "/v1/participants", "results", **search)
        # A cursor of one list is refused by another.
        page = await intake.get("/v1/participants", params=search | {"limit": 1})
        other = await intake.get(
            "/v1/coordination/pending-exceptions", params={"cursor": page.json()["next_cursor"]}
        )
        assert other.status_code == 400
        assert other.json()["detail"]["reason"] == "invalid-cursor"


async def test_metrics_have_their_own_port_and_the_api_none(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    for name in SERVICES:
        process = services[name]
        assert process.metrics_port not in (0, process.port)
        async with client(stack, name) as api:
            assert (await api.get("/metrics")).status_code == 404
            assert (await api.get("/health/live")).status_code == 200
            assert (await api.get("/health/ready")).status_code == 200
        async with httpx.AsyncClient(base_url=process.metrics_url) as metrics:
            answer = await metrics.get("/metrics")
        assert answer.status_code == 200
        assert f'durchstarten_service_info{{service="{name}"}} 1.0' in answer.text


async def test_the_local_stack_serves_its_own_docs_and_nothing_from_outside(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    for name in SERVICES:
        async with client(stack, name) as api:
            page = await api.get("/docs")
            assert page.status_code == 200
            sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
            assert sources
            assert all(s.startswith("/") and not s.startswith("//") for s in sources)
            assert "://" not in page.text
            for source in sources:
                assert (await api.get(source)).status_code == 200, (name, source)
            document = (await api.get("/openapi.json")).json()
            assert "/health/ready" in document["paths"]
            assert "/metrics" not in document["paths"]


async def test_every_answer_carries_the_security_headers(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    async with client(stack, "reporting", Role.COORDINATOR) as reporting:
        answers = [
            await reporting.get("/health/ready"),
            await reporting.get("/v1/reports/participants"),
            await reporting.get("/dashboard"),
            await reporting.get("/static/dashboard.js"),
            await reporting.get("/nowhere"),
            await reporting.post("/v1/snapshots/quarterly-monitoring", content=b"x" * 300_000),
        ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 404, 413]
    for answer in answers:
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["x-frame-options"] == "DENY"
    assert answers[1].headers["cache-control"] == "no-store"  # figures are not kept
    assert "<script>" not in answers[2].text  # the page's script is a file of its own


@pytest.fixture
def strictly_limited_courses(
    stack: Stack, services: dict[str, ServiceProcess]
) -> Iterator[ServiceProcess]:
    """Courses restarted with a burst of 5 and next to no refill; restarted as before after."""
    as_before = {"DURCHSTARTEN_HOLD_UNKNOWN_S": "6"}  # what tests/conftest.py gives courses
    services["courses"].stop()
    limits = {
        "DURCHSTARTEN_HTTP_RATE_LIMIT_BURST": "5",
        "DURCHSTARTEN_HTTP_RATE_LIMIT_PER_S": "0.001",
    }
    try:
        yield stack.start_service("courses", extra_env=as_before | limits)
    finally:
        stack.services["courses"].stop()
        stack.start_service("courses", extra_env=as_before)


async def test_a_caller_past_its_burst_gets_429_with_retry_after(
    stack: Stack, strictly_limited_courses: ServiceProcess
) -> None:
    unknown = "/v1/courses/00000000-0000-0000-0000-000000000000"
    async with client(stack, "courses", Role.PROVIDER, ALPHA) as alpha:
        statuses = [(await alpha.get(unknown)).status_code for _ in range(8)]
        refused = await alpha.get(unknown)
    assert statuses.count(404) == 5  # answered (the course is unknown) ...
    assert statuses.count(429) == 3  # ... until the burst is spent
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["reason"] == "rate-limited"
    async with client(stack, "courses", Role.PROVIDER, BETA) as beta:
        assert (await beta.get(unknown)).status_code == 404  # another caller, its own bucket
    async with client(stack, "courses") as anonymous:
        assert {(await anonymous.get("/health/ready")).status_code for _ in range(8)} == {200}


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
RECORD_CSP_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.cspViolations.push([e.violatedDirective, e.sourceFile]));
"""
PLOTLY_RULES = "document.getElementById('plotly.js-style-global').sheet.cssRules.length"


async def blocked(page: Any, reporting: str) -> list[list[str]]:
    """What the policy blocked on `page`, less plotly's bundled map style (no map is drawn).

    Plotly's own rules arrive through an empty style element (its hash is allowed) and the
    CSS object model, which the policy leaves alone; they must have arrived.
    """
    assert await page.evaluate(PLOTLY_RULES) > 0
    violations: list[list[str]] = await page.evaluate("window.cspViolations")
    maps = ["style-src-elem", f"{reporting}/static/plotly.min.js"]
    return [v for v in violations if v != maps]


async def test_the_dashboard_works_under_the_policy_and_keeps_its_token_out_of_urls(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium package is required (.ci/run installs it)"
    reporting = services["reporting"].url
    token = stack.token(Role.COORDINATOR)
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_FLAGS, timeout=PATIENCE_S * 1000
        )
        try:
            page = await browser.new_page()
            page.set_default_timeout(PATIENCE_S * 1000)
            await page.add_init_script(RECORD_CSP_VIOLATIONS)
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))

            # Without a token the page asks for one in its own form.
            await page.goto(f"{reporting}/dashboard")
            await page.fill("#token", token)
            await page.click("#login button")
            await page.wait_for_selector("body[data-ready=true]")
            assert await page.locator(".js-plotly-plot .trace").count() >= 4
            assert await blocked(page, reporting) == []
            assert page.url == f"{reporting}/dashboard"

            # A token handed over in the fragment is taken once and removed from the address.
            fresh = await browser.new_page()
            fresh.set_default_timeout(PATIENCE_S * 1000)
            await fresh.add_init_script(RECORD_CSP_VIOLATIONS)
            fresh.on("request", lambda request: requests.append(request.url))
            await fresh.goto(f"{reporting}/dashboard#token={token}")
            await fresh.wait_for_selector("body[data-ready=true]")
            assert "token" not in fresh.url
            assert await blocked(fresh, reporting) == []

            # A token that does not verify brings the form back.
            await fresh.evaluate("sessionStorage.setItem('durchstarten-dashboard-token', 'bad')")
            await fresh.goto(f"{reporting}/dashboard")
            await fresh.wait_for_selector("#login:not([hidden])")
        finally:
            await browser.close()
    assert requests
    assert all(url.startswith(reporting) for url in requests)  # nothing from outside
    assert not [url for url in requests if token in url or "token=" in url.split("#")[0]]


async def test_swagger_ui_runs_under_the_policy_from_the_services_own_files(
    stack: Stack, services: dict[str, ServiceProcess]
) -> None:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium package is required (.ci/run installs it)"
    intake = services["intake"].url
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_FLAGS, timeout=PATIENCE_S * 1000
        )
        try:
            page = await browser.new_page()
            page.set_default_timeout(PATIENCE_S * 1000)
            await page.add_init_script(RECORD_CSP_VIOLATIONS)
            requests: list[str] = []
            page.on("request", lambda request: requests.append(request.url))
            await page.goto(f"{intake}/docs")
            await page.wait_for_selector(".opblock")
            assert await page.locator(".opblock").count() >= 5
            assert await page.evaluate("window.cspViolations") == []
        finally:
            await browser.close()
    assert all(url.startswith(intake) for url in requests)  # no CDN, no validator
