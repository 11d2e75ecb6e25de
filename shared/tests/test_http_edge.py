"""The HTTP edge in-process (httpx's ASGI transport): caps, rate limits, headers, docs, metrics."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, MutableMapping
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import BaseModel, SecretStr

from durchstarten.auth import AuthSettings, DevIssuer, Role, TokenVerifier
from durchstarten.http_edge import CONTENT_SECURITY_POLICY, TokenBuckets
from durchstarten.pagination import PageRequest, decode_cursor, encode_cursor
from durchstarten.service import ServiceRuntime
from durchstarten.settings import ServiceSettings

ISSUER = "http://127.0.0.1/test-issuer"
MIGRATIONS = Path(__file__).parent  # never run: the lifespan does not start here


class Thing(BaseModel):
    name: str


@pytest.fixture
def issuer(tmp_path: Path) -> DevIssuer:
    return DevIssuer(tmp_path, issuer=ISSUER, audience="durchstarten")


def service(issuer: DevIssuer, **changes: Any) -> FastAPI:
    settings = ServiceSettings(
        database_url=SecretStr("postgresql://nobody@127.0.0.1:1/none"),
        auth_jwks_path=issuer.jwks_path,
        auth_issuer=ISSUER,
        **changes,
    )
    runtime = ServiceRuntime(
        service="edge-test", settings=settings, migrations=MIGRATIONS, with_outbox_relay=False
    )
    verifier = TokenVerifier(AuthSettings(jwks_path=issuer.jwks_path, issuer=ISSUER))
    app = runtime.http_app(title="Edge test", description="The edge alone.", verifier=verifier)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"received": len(await request.body())}

    @app.post("/things")
    async def things(thing: Thing) -> dict[str, str]:
        return {"name": thing.name}

    @app.get("/v1/things")
    async def listed() -> dict[str, list[str]]:
        return {"things": ["a"]}

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("Familientestname")

    return app


def client(app: Any, address: str = "192.0.2.10") -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 40000)), base_url="http://edge"
    )


async def chunks(count: int, size: int, pulled: list[int]) -> AsyncIterator[bytes]:
    for _ in range(count):
        pulled.append(size)
        yield b"x" * size


async def test_a_body_over_the_cap_is_refused_with_413_and_a_reason(issuer: DevIssuer) -> None:
    app = service(issuer, http_max_body_bytes=1000)
    async with client(app) as http:
        fits = await http.post("/echo", content=b"x" * 1000)
        assert fits.status_code == 200
        assert fits.json() == {"received": 1000}
        over = await http.post("/echo", content=b"x" * 1001)
        assert over.status_code == 413
        assert over.json()["reason"] == "body-too-large"
        assert over.json()["max_bytes"] == 1000
        model = await http.post("/things", content=b'{"name": "' + b"x" * 2000 + b'"}')
        assert model.status_code == 413  # FastAPI's own body parsing is cut off too


async def test_a_chunked_body_is_cut_off_as_it_streams_in(issuer: DevIssuer) -> None:
    app = service(issuer, http_max_body_bytes=10_000)
    pulled: list[int] = []
    async with client(app) as http:
        response = await http.post("/echo", content=chunks(100, 1000, pulled))
        assert "content-length" not in response.request.headers  # sent chunked
        assert response.status_code == 413
        assert response.json()["reason"] == "body-too-large"
        # Read up to the chunk that crossed the cap, not the 100 chunks offered.
        assert sum(pulled) <= 10_000 + 2 * 1000
        small: list[int] = []
        assert (await http.post("/echo", content=chunks(5, 1000, small))).json() == {
            "received": 5000
        }


async def test_a_declared_length_over_the_cap_is_refused_unread(issuer: DevIssuer) -> None:
    app = service(issuer, http_max_body_bytes=100)
    received: list[Any] = []

    async def receive() -> dict[str, Any]:
        received.append(1)
        return {"type": "http.request", "body": b"x" * 50, "more_body": True}

    sent: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/echo",
        "raw_path": b"/echo",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"edge"), (b"content-length", b"5000000")],
        "client": ("192.0.2.1", 1),
        "server": ("edge", 80),
        "state": {},
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 413
    assert received == []


async def test_a_caller_gets_429_with_retry_after_once_the_burst_is_spent(
    issuer: DevIssuer,
) -> None:
    app = service(issuer, http_rate_limit_burst=5, http_rate_limit_per_s=0.001)
    alice = {"Authorization": f"Bearer {issuer.token(subject='alice', roles=[Role.ADMIN])}"}
    bob = {"Authorization": f"Bearer {issuer.token(subject='bob', roles=[Role.ADMIN])}"}
    async with client(app) as http:
        statuses = [(await http.get("/v1/things", headers=alice)).status_code for _ in range(8)]
        assert statuses.count(200) == 5
        assert statuses.count(429) == 3
        refused = await http.get("/v1/things", headers=alice)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert refused.json()["reason"] == "rate-limited"
        # Another subject has a bucket of its own, also from the same address.
        assert (await http.get("/v1/things", headers=bob)).status_code == 200
        # Health endpoints are exempt.
        assert {(await http.get("/health/live")).status_code for _ in range(10)} == {200}


async def test_callers_without_a_valid_token_share_their_address_bucket(
    issuer: DevIssuer,
) -> None:
    app = service(issuer, http_rate_limit_burst=3, http_rate_limit_per_s=0.001)
    forged = [{"Authorization": f"Bearer not-a-token-{n}"} for n in range(6)]
    async with client(app, "192.0.2.20") as http:
        statuses = [(await http.get("/v1/things", headers=h)).status_code for h in forged]
    # Inventing a fresh (unverifiable) token per request gains nothing over the address.
    assert statuses.count(200) == 3
    assert statuses.count(429) == 3
    async with client(app, "192.0.2.21") as http:
        assert (await http.get("/v1/things")).status_code == 200


def test_a_token_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate_per_s=2, burst=4, clock=lambda: now[0])
    assert [buckets.take("a") for _ in range(4)] == [0, 0, 0, 0]
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] = 1.0  # two tokens back
    assert [buckets.take("a") == 0 for _ in range(3)] == [True, True, False]
    now[0] = 100.0  # never more than the burst
    assert sum(buckets.take("a") == 0 for _ in range(10)) == 4


def test_the_least_recent_callers_are_forgotten_beyond_the_bound() -> None:
    buckets = TokenBuckets(rate_per_s=1, burst=1, max_callers=2, clock=lambda: 0.0)
    assert buckets.take("a") == 0
    assert buckets.take("b") == 0
    assert buckets.take("c") == 0  # "a" is forgotten
    assert buckets.take("c") > 0
    assert buckets.take("a") == 0


async def test_every_answer_carries_the_security_headers(issuer: DevIssuer) -> None:
    app = service(issuer, http_max_body_bytes=10, http_rate_limit_burst=4)
    async with client(app) as http:
        answers = [
            await http.get("/health/live"),
            await http.get("/v1/things"),
            await http.get("/nowhere"),
            await http.post("/echo", content=b"x" * 11),
            await http.get("/boom"),
            await http.get("/v1/things"),  # the burst of 4 is spent: 429
        ]
    assert [a.status_code for a in answers] == [200, 200, 404, 413, 500, 429]
    for answer in answers:
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
        assert "default-src 'self'" in answer.headers["content-security-policy"]
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
    assert "Familientestname" not in answers[4].text


async def test_docs_and_the_openapi_document_are_off_by_default(issuer: DevIssuer) -> None:
    async with client(service(issuer)) as http:
        for path in ("/docs", "/openapi.json", "/redoc", "/docs/assets/swagger-ui-bundle.js"):
            assert (await http.get(path)).status_code == 404, path


async def test_docs_when_switched_on_use_the_services_own_assets(issuer: DevIssuer) -> None:
    async with client(service(issuer, http_docs=True)) as http:
        page = await http.get("/docs")
        assert page.status_code == 200
        assert "<script>" not in page.text  # no inline script: the CSP allows none
        sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert sources
        assert all(source.startswith("/") and not source.startswith("//") for source in sources)
        assert "http://" not in page.text
        assert "https://" not in page.text
        for source in sources:
            asset = await http.get(source)
            assert asset.status_code == 200, source
        init = (await http.get("/docs/assets/init.js")).text
        assert "validatorUrl: null" in init  # Swagger UI would ask an outside validator
        assert "http" not in init
        assert "/echo" in (await http.get("/openapi.json")).json()["paths"]
        assert (await http.get("/docs/assets/..%2F..%2Fsettings.py")).status_code == 404
        assert (await http.get("/docs/assets/index.html")).status_code == 404


async def test_metrics_are_not_on_the_api_but_on_their_own_app(issuer: DevIssuer) -> None:
    app = service(issuer)
    async with client(app) as http:
        assert (await http.get("/metrics")).status_code == 404
    async with client(app.state.runtime.metrics_app()) as metrics:
        answer = await metrics.get("/metrics")
        assert answer.status_code == 200
        assert 'durchstarten_service_info{service="edge-test"} 1.0' in answer.text
        assert (await metrics.get("/v1/things")).status_code == 404


def test_metrics_listen_beside_the_api_port_unless_set() -> None:
    url = SecretStr("postgresql://nobody@127.0.0.1:1/none")
    assert ServiceSettings(database_url=url, http_port=8001).metrics_listen_port() == 9001
    assert ServiceSettings(database_url=url, metrics_port=9500).metrics_listen_port() == 9500
    assert ServiceSettings(database_url=url, http_port=0).metrics_listen_port() == 0
    assert ServiceSettings(database_url=url).metrics_host == "127.0.0.1"


def test_a_cursor_round_trips_and_names_its_list() -> None:
    key = (date(2022, 4, 1), uuid.UUID(int=7))
    cursor = encode_cursor("due-referrals", key)
    assert decode_cursor("due-referrals", cursor, (date.fromisoformat, uuid.UUID)) == key
    with pytest.raises(ValueError, match="cursor"):
        decode_cursor("due-follow-ups", cursor, (date.fromisoformat, uuid.UUID))
    with pytest.raises(ValueError, match="cursor"):
        decode_cursor("due-referrals", "%%%not-base64", (date.fromisoformat,))


def test_a_page_walk_sees_every_row_once() -> None:
    rows = list(range(11))
    seen: list[int] = []
    after: tuple[Any, ...] | None = None
    pages = 0
    while True:
        request = PageRequest("numbers", 3, after)
        start = 0 if after is None else after[0] + 1
        shown, cursor = request.page(rows[start : start + request.fetch_limit()], lambda r: (r,))
        seen += shown
        pages += 1
        if cursor is None:
            break
        after = decode_cursor("numbers", cursor, (int,))
    assert seen == rows
    assert pages == 4
