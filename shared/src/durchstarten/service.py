"""The runtime every service shares: pool, migrations, broker, relay, health and metrics.

A service's `create_app(settings)` builds a `ServiceRuntime`, registers its subscribers and
routes, and returns `runtime.http_app()`, wrapped in the HTTP edge (`durchstarten.http_edge`);
the FastAPI lifespan starts and stops everything in the right order. `/metrics` is not on
the API: `runtime.metrics_app()` serves it on a port of its own (`durchstarten.runner`).
Tests of the command side attach a pool of their own with `attach_database` and never start
the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from durchstarten import audit
from durchstarten.audit_http import add_audit_routes
from durchstarten.auth import TokenVerifier
from durchstarten.db.migrate import PLATFORM_MIGRATIONS, migrate
from durchstarten.db.pool import create_pool
from durchstarten.db.roles import current_role, grant_runtime
from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.http_edge import (
    SecurityHeaders,
    TokenBuckets,
    VerifiedCallers,
    add_docs,
    add_edge,
)
from durchstarten.logging import configure_logging, get_logger
from durchstarten.messaging import answers
from durchstarten.messaging.broker import create_broker
from durchstarten.messaging.dlq import DeadLetters, Redactor
from durchstarten.messaging.lag import group_lag
from durchstarten.messaging.outbox import OutboxRelay, backlog
from durchstarten.periodic import Periodic
from durchstarten.settings import ServiceSettings
from durchstarten.tracing import Tracing

log = get_logger(__name__)
DB_SQL = SqlFiles(Path(__file__).parent / "db" / "sql")


class Metrics:
    """Prometheus metrics of one service, in a registry of its own (no global state)."""

    def __init__(self, service: str) -> None:
        """Create the metrics every service exports."""
        self.registry = CollectorRegistry()
        labels = {"service": service}
        self.messages = Counter(
            "durchstarten_messages_processed",
            "Messages handled, by topic and outcome.",
            ["topic", "outcome"],
            registry=self.registry,
        )
        self.consumer_lag = Gauge(
            "durchstarten_consumer_lag",
            "Messages behind the end of each partition by the consumer group's committed "
            "offsets (the group's progress, whichever member holds the partition, a dead "
            "one included), by group, topic and partition.",
            ["group", "topic", "partition"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "durchstarten_http_request_seconds",
            "Time from a request's arrival to its response, by method, route and status.",
            ["method", "route", "status"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
            registry=self.registry,
        )
        self.outbox_backlog = Gauge(
            "durchstarten_outbox_backlog",
            "Outbox rows not yet published.",
            registry=self.registry,
        )
        self.outbox_parked = Gauge(
            "durchstarten_outbox_parked",
            "Outbox rows the broker refused for good; an operator must look at them.",
            registry=self.registry,
        )
        self.info = Gauge(
            "durchstarten_service_info",
            "Constant 1, labelled.",
            list(labels),
            registry=self.registry,
        )
        self.info.labels(**labels).set(1)


class RequestTimes:
    """ASGI middleware: how long each request took, by method, route template and status.

    The route's template (`/v1/participants/{participant_id}`), never the path itself: a
    path names a person's pseudonym, and one series per person would be both a privacy
    leak and a metric without bounds. Requests no route matched count as `unmatched`.
    """

    def __init__(self, app: ASGIApp, histogram: Histogram) -> None:
        """Wrap `app`, observing into `histogram`."""
        self.app = app
        self.histogram = histogram

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Time the request until its response has been sent."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        started = time.perf_counter()

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.histogram.labels(scope.get("method", ""), route, str(status)).observe(
                time.perf_counter() - started
            )


class ErrorsWithoutDetails:
    """ASGI middleware: an unhandled error becomes a plain 500, logged by class only.

    Starlette's own handler would re-raise it for uvicorn to log with its text, and an
    exception's text may quote request data (names, birth dates).
    """

    def __init__(self, app: ASGIApp) -> None:
        """Wrap `app`."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; answer 500 if it fails before a response started."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            log.error(  # the class only, never the text
                "request failed", path=scope.get("path"), error_class=type(error).__name__
            )
            if not started:
                response = JSONResponse(
                    {"reason": "internal-error", "message_en": "Internal error."},
                    status_code=500,
                )
                await response(scope, receive, send)


class ServiceRuntime:
    """Owns a service's resources; dependencies reach handlers through it, never globals."""

    def __init__(
        self,
        *,
        service: str,
        settings: ServiceSettings,
        migrations: Path,
        with_outbox_relay: bool,
        dead_letter_redactor: Redactor | None = None,
    ) -> None:
        """Prepare (but do not start) the broker; the pool opens in the lifespan."""
        configure_logging(service=service, level=settings.log_level, fmt=settings.log_format)
        self.service = service
        self.settings = settings
        self.migrations = migrations
        self.broker: KafkaBroker = create_broker(settings, service=service)
        self.metrics = Metrics(service)
        self.dead_letters = DeadLetters(
            self.broker, consumer=service, redactor=dead_letter_redactor
        )
        self._with_outbox_relay = with_outbox_relay
        self.tracing = Tracing(service, "off")  # set up at start, as the settings say
        self._pool: asyncpg.Pool | None = None
        self.relay: OutboxRelay | None = None
        self._on_start: list[Callable[[], Awaitable[None]]] = []
        self._on_migrated: list[Callable[[asyncpg.Connection], Awaitable[None]]] = []
        self._on_stop: list[Callable[[], Awaitable[None]]] = []
        self._resources: list[
            tuple[Callable[[], Awaitable[None]], Callable[[], Awaitable[None]]]
        ] = []
        # The audit trail's entries and the commands' answers past the deletion plan's
        # periods go, once an hour.
        self._audit_retention = Periodic(
            f"audit-retention-{service}", self.purge_expired, interval_s=3600
        )

    async def purge_expired(self) -> int:
        """Remove audit entries and command answers past their periods; return how many."""
        answers_kept = self.settings.deletion_plan_rules().stores.command_answers.seconds
        async with self.pool.acquire() as connection:
            removed = await audit.purge(connection)
            answers_removed = (
                await answers.purge(connection, answers_kept) if answers_kept is not None else 0
            )
        if removed or answers_removed:
            log.info("entries past their period removed", audit=removed, answers=answers_removed)
        return removed + answers_removed

    @property
    def pool(self) -> asyncpg.Pool:
        """The connection pool; available once the service has started (or one is attached)."""
        if self._pool is None:
            msg = "the service has not started: no database pool yet"
            raise RuntimeError(msg)
        return self._pool

    async def attach_database(self, pool: asyncpg.Pool) -> None:
        """Use `pool`, already open, as the service's database and migrate it to the newest schema.

        The lifespan attaches the pool it opens; a test of the command side attaches its own
        pool and leaves the broker unstarted. Whoever opened the pool closes it.
        """
        if self._pool is not None:
            msg = "a database pool is attached already"
            raise RuntimeError(msg)
        scopes = {"platform": PLATFORM_MIGRATIONS, self.service: self.migrations}
        owner_url = self.settings.database_owner_url
        audit_rule = self.settings.deletion_plan_rules().stores.audit_trail
        keep = None if audit_rule.seconds is None else timedelta(seconds=audit_rule.seconds)
        async with pool.acquire() as connection:
            if owner_url is None:
                await migrate(connection, scopes)
                await audit.set_retention(connection, keep)
            else:
                # The owner migrates and grants; the pool's role only works the data.
                owner = await asyncpg.connect(owner_url.get_secret_value())
                try:
                    await migrate(owner, scopes)
                    await audit.set_retention(owner, keep)
                    runtime_role = await current_role(connection)
                    if runtime_role != await current_role(owner):
                        await grant_runtime(owner, runtime_role)
                finally:
                    await owner.close()
        self._pool = pool
        async with pool.acquire() as connection:
            for hook in self._on_migrated:
                await hook(connection)

    def on_migrated(self, hook: Callable[[asyncpg.Connection], Awaitable[None]]) -> None:
        """Run `hook` once the database is migrated, before anything reads it.

        It is what the service keeps of its configuration (also where a test attaches its
        own pool).
        """
        self._on_migrated.append(hook)

    def add_resource(
        self, open_: Callable[[], Awaitable[None]], close: Callable[[], Awaitable[None]]
    ) -> None:
        """Open a further resource (e.g. a second database) before the broker starts consuming.

        `close` runs after the broker has stopped, so no handler still in flight loses it.
        """
        self._resources.append((open_, close))

    def on_start(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` after the pool, migrations and broker are up."""
        self._on_start.append(hook)

    def on_stop(self, hook: Callable[[], Awaitable[None]]) -> None:
        """Run `hook` first when the service stops."""
        self._on_stop.append(hook)

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: FastAPI) -> AsyncIterator[None]:
        """Start pool, migrations, broker and relay; stop them in reverse order."""
        settings = self.settings
        self.tracing = Tracing(  # before the pool: its connections are instrumented
            self.service,
            settings.tracing,
            file=settings.tracing_file,
            otlp_endpoint=settings.tracing_otlp_endpoint,
        )
        pool = await create_pool(
            settings.database_url.get_secret_value(),
            min_size=settings.database_pool_min,
            max_size=settings.database_pool_max,
        )
        opened: list[Callable[[], Awaitable[None]]] = []
        try:
            await self.attach_database(pool)
            for open_, close in self._resources:
                await open_()
                opened.append(close)
            await self.broker.start()
            if self._with_outbox_relay:
                self.relay = OutboxRelay(
                    pool,
                    self.broker,
                    batch_size=settings.outbox_batch_size,
                    poll_interval_s=settings.outbox_poll_interval_s,
                    lease_s=settings.outbox_lease_s,
                    retention_s=settings.outbox_retention_hours * 3600,
                )
                await self.relay.start()
            await self._audit_retention.start()
            for hook in self._on_start:
                await hook()
            log.info("service started", http_port=settings.http_port)
            yield
        finally:
            for hook in self._on_stop:
                await hook()
            await self._audit_retention.stop()
            if self.relay is not None:
                await self.relay.stop()
            await self.broker.stop()  # waits for in-flight handlers (graceful_timeout)
            for close in reversed(opened):
                await close()
            self._pool = None
            await pool.close()
            self.tracing.shutdown()
            log.info("service stopped")

    async def ready(self) -> dict[str, bool]:
        """Readiness of each dependency: the database answers, the broker answers."""
        checks: dict[str, bool] = {}
        try:
            async with asyncio.timeout(2):
                async with self.pool.acquire() as connection:
                    checks["database"] = await connection.fetchval(DB_SQL["ping"]) is True
        except Exception:  # any failure means "not ready", which is what we report
            checks["database"] = False
        checks["kafka"] = await self.broker.ping(timeout=2.0)
        return checks

    async def refresh_metrics(self) -> None:
        """Update gauges that are cheap to read only on demand: lag and outbox backlog."""
        for subscriber in self.broker.subscribers:
            consumer: Any = getattr(subscriber, "consumer", None)
            group = getattr(consumer, "_group_id", None)
            if consumer is None or group is None:
                continue
            try:
                lag = await group_lag(consumer, sorted(consumer.subscription()))
            except KeyError:  # not described yet: the next scrape asks again
                continue
            for tp, behind in lag.items():
                self.metrics.consumer_lag.labels(group, tp.topic, str(tp.partition)).set(behind)
        if self._with_outbox_relay:
            unsent, parked = await backlog(self.pool)
            self.metrics.outbox_backlog.set(unsent)
            self.metrics.outbox_parked.set(parked)

    def http_app(self, *, title: str, description: str, verifier: TokenVerifier) -> FastAPI:
        """The FastAPI app with health and readiness routes, in the HTTP edge; add your own.

        `verifier` names the callers for the rate limits (a valid token's subject). The
        OpenAPI document and `/docs` exist only when DURCHSTARTEN_HTTP_DOCS says so.
        """
        settings = self.settings
        app = FastAPI(
            title=title,
            description=description,
            lifespan=self.lifespan,
            openapi_url="/openapi.json" if settings.http_docs else None,
            docs_url=None,  # FastAPI's own page loads Swagger UI from a CDN: see add_docs
            redoc_url=None,
        )
        app.state.runtime = self  # for tools and tests that drive the service in-process
        if settings.http_docs:
            add_docs(app)
        add_edge(
            app,
            max_body_bytes=settings.http_max_body_bytes,
            buckets=TokenBuckets(
                rate_per_s=settings.http_rate_limit_per_s, burst=settings.http_rate_limit_burst
            ),
            caller_of=VerifiedCallers(lambda token: verifier.verify(token).subject),
            errors=ErrorsWithoutDetails,
        )

        add_audit_routes(app, lambda: self.pool, verifier.principal)
        app.add_middleware(RequestTimes, histogram=self.metrics.request_seconds)

        @app.get("/health/live", tags=["operations"])
        async def live() -> dict[str, str]:
            """The process is up (no dependency checked); `instance` names the process."""
            return {"status": "ok", "instance": settings.instance_id}

        @app.get("/health/ready", tags=["operations"])
        async def ready(response: Response) -> dict[str, Any]:
            """Ready when the database and the broker answer; 503 otherwise."""
            checks = await self.ready()
            ok = all(checks.values())
            response.status_code = 200 if ok else 503
            return {
                "status": "ok" if ok else "unavailable",
                "checks": checks,
                "instance": settings.instance_id,
            }

        return app

    def metrics_app(self) -> ASGIApp:
        """`GET /metrics` alone: Prometheus metrics, consumer lag and outbox backlog included.

        Served on its own port (DURCHSTARTEN_METRICS_HOST/_PORT, 127.0.0.1 by default), never
        on the API's, so only the monitoring network reaches it.
        """

        async def metrics(_request: Request) -> Response:
            if self._pool is not None:  # before the start (and after the stop) no gauges
                await self.refresh_metrics()
            return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)

        return SecurityHeaders(Starlette(routes=[Route("/metrics", metrics, methods=["GET"])]))
