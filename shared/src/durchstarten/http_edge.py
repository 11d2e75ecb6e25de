"""The HTTP edge every service shares: body caps, rate limits, security headers, own docs.

DESIGN.md (Security): bad input and abuse stop at the edge, and no page loads anything from
outside the county network. These are plain ASGI middlewares, so they see every request,
also those no route answers, and hold nothing but what their constructor is given.
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import anyio.to_thread
from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "img-src 'self' data:",  # Swagger UI's and plotly's icons are data: URIs
        # An empty inline style element (the hash is that of ""): plotly adds its rules to
        # one through the CSS object model, which the policy does not restrict.
        "style-src 'self' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
"""Scripts, styles and data from the service itself only; no inline script, no framing."""

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),  # frame-ancestors for browsers that predate it
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
NO_STORE = (b"cache-control", b"no-store")
"""For every answer that does not say otherwise: API answers may carry person-level data."""

EXEMPT_FROM_RATE_LIMITS = ("/health/",)
"""Orchestrators poll these; they touch nothing a caller could abuse."""


def problem_body(reason: str, en: str, de: str, **details: Any) -> bytes:
    """An edge refusal's JSON body, shaped like the services' other refusals."""
    return json.dumps({"reason": reason, "message_en": en, "message_de": de, **details}).encode()


async def _refuse(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class SecurityHeaders:
    """ASGI middleware: the security headers on every answer, `no-store` unless it says."""

    def __init__(self, app: ASGIApp) -> None:
        """Wrap `app`."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Add the headers to the response's start."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [h for h in (*SECURITY_HEADERS, NO_STORE) if h[0] not in present]
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, with_headers)


class BodyTooLarge(Exception):
    """The request body grew past the cap while it was read."""


class BodyLimit:
    """ASGI middleware: 413 for a body over `max_bytes`, counted as it streams in.

    A declared Content-Length over the cap is refused before anything is read; a chunked
    (or understated) body is cut off at the chunk that crosses the cap, so no more than the
    cap and one chunk is ever held. Whatever the app answers once the cap is crossed (FastAPI
    turns a failed body read into 400) is replaced by the 413. The connection stays open:
    uvicorn discards the rest of the body unread (until its keep-alive timeout), so the
    client, still sending, gets the 413 instead of a reset connection.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        """Wrap `app`; refuse bodies longer than `max_bytes`."""
        self.app = app
        self.max_bytes = max_bytes

    def _body(self) -> bytes:
        return problem_body(
            "body-too-large",
            f"The request body exceeds {self.max_bytes} bytes.",
            f"Der Inhalt der Anfrage ist größer als {self.max_bytes} Bytes.",
            max_bytes=self.max_bytes,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the declared length, then count what arrives."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", []):
            if name.lower() == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = self.max_bytes + 1  # not a length: refuse it as one too long
                if declared > self.max_bytes:
                    await _refuse(send, 413, self._body())
                    return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's answer to a cut-off body; the 413 goes out instead
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except BodyTooLarge:
            pass
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await _refuse(send, 413, self._body())


@dataclass
class _Bucket:
    tokens: float
    updated_at: float


class TokenBuckets:
    """A token bucket per caller: `burst` requests at once, refilled at `rate_per_s`.

    In this process's memory: with several instances behind a balancer each keeps its own
    buckets (a caller gets the limit once per instance). At most `max_callers` buckets are
    kept; the least recently seen caller's is forgotten first (it then starts full again).
    """

    def __init__(
        self,
        *,
        rate_per_s: float,
        burst: int,
        max_callers: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Buckets of `burst` tokens refilled at `rate_per_s`; `clock` for tests."""
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._max_callers = max_callers
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()

    def take(self, caller: str) -> float:
        """Take a token for `caller`: 0 if granted, else the seconds until one is there."""
        now = self._clock()
        bucket = self._buckets.get(caller)
        if bucket is None:
            bucket = _Bucket(float(self.burst), now)
            self._buckets[caller] = bucket
            while len(self._buckets) > self._max_callers:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(caller)
            elapsed = max(0.0, now - bucket.updated_at)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate_per_s)
            bucket.updated_at = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate_per_s


CallerOf = Callable[[Scope], Awaitable[str]]
"""Names the caller of a request: `subject:<sub>` of a valid token, else `address:<ip>`."""


class RateLimit:
    """ASGI middleware: 429 with Retry-After once a caller's bucket is empty.

    Health endpoints are exempt.
    """

    def __init__(self, app: ASGIApp, *, buckets: TokenBuckets, caller_of: CallerOf) -> None:
        """Wrap `app`; `caller_of` names the caller whose bucket a request takes from."""
        self.app = app
        self.buckets = buckets
        self.caller_of = caller_of

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Take a token or refuse."""
        if scope["type"] != "http" or str(scope.get("path", "")).startswith(
            EXEMPT_FROM_RATE_LIMITS
        ):
            await self.app(scope, receive, send)
            return
        wait_s = self.buckets.take(await self.caller_of(scope))
        if wait_s > 0:
            retry_after = max(1, math.ceil(wait_s))
            body = problem_body(
                "rate-limited",
                f"Too many requests; try again in {retry_after} s.",
                f"Zu viele Anfragen; bitte in {retry_after} s erneut versuchen.",
                retry_after_s=retry_after,
            )
            await _refuse(send, 429, body, [(b"retry-after", str(retry_after).encode())])
            return
        await self.app(scope, receive, send)


def client_address(scope: Scope) -> str:
    """The caller's address as the server saw it (uvicorn applies trusted proxy headers)."""
    client = scope.get("client")
    return f"address:{client[0] if client else 'unknown'}"


def bearer_token(scope: Scope) -> str | None:
    """The bearer token of the request's Authorization header, if it has one."""
    for name, value in scope.get("headers", []):
        if name.lower() == b"authorization":
            header: bytes = value
            scheme, _, token = header.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                return token.strip()
    return None


class VerifiedCallers:
    """`caller_of` for RateLimit: the subject of a token that verifies, else the address.

    An unverified subject is never used (anyone could invent a fresh one per request). A
    token's subject is remembered for `remember_s` (at most `max_tokens` tokens), so the
    limiter verifies a token once, not once per request; `verify` runs in a worker thread,
    as it may fetch the issuer's keys.
    """

    def __init__(
        self,
        verify: Callable[[str], str],
        *,
        remember_s: float = 60.0,
        max_tokens: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`verify(token)` returns the token's subject or raises."""
        self._verify = verify
        self._remember_s = remember_s
        self._max_tokens = max_tokens
        self._clock = clock
        self._subjects: OrderedDict[str, tuple[float, str | None]] = OrderedDict()

    async def __call__(self, scope: Scope) -> str:
        """The caller of the request in `scope`."""
        token = bearer_token(scope)
        if token is None:
            return client_address(scope)
        now = self._clock()
        known = self._subjects.get(token)
        if known is None or now - known[0] > self._remember_s:
            subject = await self._subject(token)
            known = (now, subject)
            self._subjects[token] = known
            while len(self._subjects) > self._max_tokens:
                self._subjects.popitem(last=False)
        subject = known[1]
        return f"subject:{subject}" if subject is not None else client_address(scope)

    async def _subject(self, token: str) -> str | None:
        try:
            subject: str = await anyio.to_thread.run_sync(self._verify, token)
        except Exception:  # an invalid token: the caller is its address
            return None
        return subject


def add_edge(
    app: FastAPI,
    *,
    max_body_bytes: int,
    buckets: TokenBuckets,
    caller_of: CallerOf,
    errors: Callable[[ASGIApp], ASGIApp],
) -> None:
    """Wrap `app` in the edge: headers outermost, then `errors`, rate limit, body cap.

    The headers reach every answer, the 500s of `errors` and the edge's own 413 and 429
    included; a refused caller costs no body read.
    """
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    app.add_middleware(RateLimit, buckets=buckets, caller_of=caller_of)
    app.add_middleware(errors)
    app.add_middleware(SecurityHeaders)


def swagger_ui_assets() -> Path:
    """Where the installed `fastapi-offline` package keeps Swagger UI's files."""
    return Path(str(files("fastapi_offline") / "static"))


DOCS_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}
DOCS_INIT_JS = """\
"use strict";
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  layout: "BaseLayout",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIBundle.SwaggerUIStandalonePreset],
});
"""
DOCS_HTML = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}: API</title>
<link rel="icon" type="image/png" href="/docs/assets/favicon.png">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/assets/init.js"></script>
</body>
</html>
"""


def add_docs(app: FastAPI) -> None:
    """`/docs`: Swagger UI from the service's own assets (no CDN), for `/openapi.json`.

    The page has no inline script (the Content-Security-Policy forbids it): its set-up is
    `/docs/assets/init.js`. Call it only when the docs are switched on.
    """
    assets = swagger_ui_assets()
    page = DOCS_HTML.format(title=app.title)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/docs/assets/init.js", include_in_schema=False)
    async def docs_init() -> Response:
        return Response(DOCS_INIT_JS, media_type="text/javascript")

    @app.get("/docs/assets/{name}", include_in_schema=False)
    async def docs_asset(name: str) -> FileResponse:
        media_type = DOCS_ASSETS.get(name)
        if media_type is None:
            raise HTTPException(404, {"reason": "not-found"})
        return FileResponse(
            assets / name, media_type=media_type, headers={"Cache-Control": "max-age=3600"}
        )
