"""Wiring of the reporting service: projections from the domain topics and the report API."""

import hashlib
import importlib.util
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from faststream.kafka.annotations import KafkaMessage

from durchstarten.auth import Principal, Role, TokenVerifier
from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.events.topics import DOMAIN_EVENT_TOPICS
from durchstarten.messaging.broker import subscriber_options
from durchstarten.service import ServiceRuntime
from reporting.cache import ReportCache
from reporting.disclosure import protect_count
from reporting.exports import as_format
from reporting.projections import PROJECTION, Projector, participant_count
from reporting.rebuild import RebuildRunning, Rebuilds
from reporting.reports import (
    courses_and_funds,
    dashboard_data,
    esf_indicators,
    outcomes,
    quarterly_monitoring,
)
from reporting.settings import ReportingSettings
from reporting.versions import live_schema, reading

SERVICE = "reporting"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SNAPSHOT_SQL = SqlFiles(Path(__file__).parent / "db")
DASHBOARD = Path(__file__).parent / "static" / "dashboard.html"
_PLOTLY = importlib.util.find_spec("plotly")
PLOTLY_JS = (
    Path(_PLOTLY.origin or "").parent / "package_data" / "plotly.min.js" if _PLOTLY else Path()
)


def create_app(settings: ReportingSettings | None = None) -> FastAPI:  # noqa: PLR0915  # all wiring in one place
    """Build the reporting service: batch projection consumer and report endpoints."""
    settings = settings or ReportingSettings()
    runtime = ServiceRuntime(
        service=SERVICE, settings=settings, migrations=MIGRATIONS, with_outbox_relay=False
    )
    projector = Projector(runtime)
    rebuilds = Rebuilds(runtime, settings)
    runtime.on_stop(rebuilds.stop)
    verifier = TokenVerifier(settings.auth())
    cache = ReportCache(settings.report_cache_s)
    # Which version is live, looked up at most twice a second (not once per request).
    versions = ReportCache(min(settings.report_cache_s, 0.5))

    async def read_live_version() -> str:
        async with runtime.pool.acquire() as connection:
            return await live_schema(connection)

    async def cached_report(
        request: Request,
        key: tuple[Any, ...],
        build: Callable[[asyncpg.Connection], Awaitable[dict[str, Any]]],
        format_: str,
        name: str,
    ) -> Response:
        """The report in its format, from the cache or built in one read snapshot.

        A report may be up to DURCHSTARTEN_REPORT_CACHE_S old (a little more while it is
        recomputed); `Cache-Control: no-cache` asks for one computed now.
        """

        async def compute() -> Response:
            async with reading(runtime.pool) as connection:
                report = await build(connection)
            return as_format(report, format_, name)

        # The live version is part of the key: after a rebuild's switch no report of the
        # retired version is served once the version itself is looked up again.
        version = await versions.get("live", read_live_version)
        fresh = "no-cache" in request.headers.get("cache-control", "").lower()
        response: Response = await cache.get((version, *key, format_), compute, fresh=fresh)
        return response

    # FastStream's overloads cannot see through **options, hence the ignore.
    @runtime.broker.subscriber(  # type: ignore[untyped-decorator]
        *DOMAIN_EVENT_TOPICS,
        group_id=PROJECTION,
        batch=True,
        max_records=settings.projection_batch_size,
        batch_timeout_ms=50,
        **subscriber_options(settings),
    )
    async def on_events(message: KafkaMessage) -> None:
        await projector.apply_batch(message.raw_message)

    app = runtime.http_app(
        title="Durchstarten reporting",
        description="Official figures of the programme, disclosure-controlled.",
    )
    CurrentPrincipal = Annotated[Principal, Depends(verifier.principal)]
    Year = Annotated[int, Query(ge=2019, le=2100, description="Calendar year.")]
    Quarter = Annotated[int, Query(ge=1, le=4, description="Calendar quarter.")]
    Format = Annotated[
        Literal["json", "csv", "xlsx"],
        Query(description="json, or csv / xlsx for a file with the same protected numbers."),
    ]
    ProviderScope = Annotated[
        str | None,
        Query(
            pattern=PROVIDER_ID,
            description="Only this provider's participants (coordinator, admin; a provider "
            "always gets its own scope).",
        ),
    ]

    @app.get("/v1/reports/participants", tags=["reports"])
    async def participants(principal: CurrentPrincipal) -> dict[str, Any]:
        """Participants registered so far; small counts are suppressed."""
        principal.require(Role.COORDINATOR, Role.MINISTRY, Role.ADMIN)
        async with reading(runtime.pool) as connection:
            count = await participant_count(connection)
        return {
            "participants": protect_count(count, min_cell_count=settings.min_cell_count),
            "generated_at": datetime.now(UTC).isoformat(),
            "min_cell_count": settings.min_cell_count,
        }

    @app.get("/v1/reports/quarterly-monitoring", tags=["reports"])
    async def quarterly(
        *,
        request: Request,
        principal: CurrentPrincipal,
        year: Year,
        quarter: Quarter,
        provider: ProviderScope = None,
        format: Format = "json",  # the public parameter name
    ) -> Any:
        """Entries, exits and caseload per municipality and module for a calendar quarter.

        Fixed periods only (no free date ranges): overlapping queries cannot be differenced
        to single out a person. `format=csv` or `format=xlsx` gives the same tables as files.
        """
        scope = scope_of(principal, provider)
        name = f"quarterly-monitoring-{year}-q{quarter}" + (f"-{scope}" if scope else "")
        return await cached_report(
            request,
            ("quarterly-monitoring", year, quarter, scope),
            lambda connection: quarterly_monitoring(
                connection,
                year=year,
                quarter=quarter,
                min_cell_count=settings.min_cell_count,
                provider=scope,
            ),
            format,
            name,
        )

    @app.get("/v1/reports/outcomes", tags=["reports"])
    async def outcomes_report(
        *,
        request: Request,
        principal: CurrentPrincipal,
        year: Year,
        quarter: Quarter,
        provider: ProviderScope = None,
        format: Format = "json",  # the public parameter name
    ) -> Any:
        """Placements of a calendar quarter, placement rates and time to placement.

        The rates carry their definitions; the median is over people first placed then.
        """
        scope = scope_of(principal, provider)
        return await cached_report(
            request,
            ("outcomes", year, quarter, scope),
            lambda connection: outcomes(
                connection,
                year=year,
                quarter=quarter,
                min_cell_count=settings.min_cell_count,
                provider=scope,
            ),
            format,
            f"outcomes-{year}-q{quarter}" + (f"-{scope}" if scope else ""),
        )

    @app.get("/v1/reports/courses", tags=["reports"])
    async def courses_report(
        request: Request,
        principal: CurrentPrincipal,
        year: Year,
        provider: ProviderScope = None,
        format: Format = "json",  # the public parameter name
    ) -> Any:
        """Enrolments, completions, drop-outs, exam results, pass rate and funds of a year."""
        scope = scope_of(principal, provider)
        return await cached_report(
            request,
            ("courses", year, scope),
            lambda connection: courses_and_funds(
                connection, year=year, min_cell_count=settings.min_cell_count, provider=scope
            ),
            format,
            f"courses-{year}" + (f"-{scope}" if scope else ""),
        )

    @app.get("/v1/reports/esf-indicators", tags=["reports"])
    async def esf_report(
        request: Request,
        principal: CurrentPrincipal,
        year: Year,
        provider: ProviderScope = None,
        format: Format = "json",  # the public parameter name
    ) -> Any:
        """ESF+ style indicators: people at entry by the common categories; results after exit.

        Results count the last follow-up within 4 weeks and within 6 months after exit of
        the people who exited in the year.
        """
        scope = scope_of(principal, provider)
        return await cached_report(
            request,
            ("esf-indicators", year, scope),
            lambda connection: esf_indicators(
                connection, year=year, min_cell_count=settings.min_cell_count, provider=scope
            ),
            format,
            f"esf-indicators-{year}" + (f"-{scope}" if scope else ""),
        )

    @app.get("/v1/dashboard/data", tags=["dashboard"])
    async def dashboard_numbers(principal: CurrentPrincipal) -> dict[str, Any]:
        """The dashboard's numbers, disclosure-controlled."""
        principal.require(Role.COORDINATOR, Role.MINISTRY, Role.ADMIN)
        async with reading(runtime.pool) as connection:
            return await dashboard_data(connection, min_cell_count=settings.min_cell_count)

    @app.get("/dashboard", tags=["dashboard"], response_class=HTMLResponse)
    async def dashboard_page() -> HTMLResponse:
        """The dashboard page; it fetches its numbers with the caller's bearer token."""
        return HTMLResponse(DASHBOARD.read_text(encoding="utf-8"))

    @app.get("/static/plotly.min.js", tags=["dashboard"], response_class=FileResponse)
    async def plotly_js() -> FileResponse:
        """The charting library, served from the installed plotly package (no CDN)."""
        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    @app.post("/v1/snapshots/quarterly-monitoring", tags=["snapshots"], status_code=201)
    async def freeze(
        principal: CurrentPrincipal,
        year: Year,
        quarter: Quarter,
        stichtag: date,
    ) -> dict[str, Any]:
        """Freeze the quarterly table as it stands (reporting date `stichtag`).

        The stored bytes are what `GET /v1/snapshots/{id}` returns for ever after; freezing
        the same report and date again returns the first snapshot.
        """
        principal.require(Role.COORDINATOR, Role.ADMIN)
        async with reading(runtime.pool, writes=True) as connection:
            report = await quarterly_monitoring(
                connection, year=year, quarter=quarter, min_cell_count=settings.min_cell_count
            )
            report["stichtag"] = stichtag.isoformat()
            body = json.dumps(report, sort_keys=True, separators=(",", ":")).encode()
            digest = hashlib.sha256(body).hexdigest()
            await connection.execute(
                SNAPSHOT_SQL["snapshot_insert"],
                uuid.uuid4(),
                "quarterly-monitoring",
                year,
                quarter,
                stichtag,
                principal.subject,
                body,
                digest,
            )
            row = await connection.fetchrow(
                SNAPSHOT_SQL["snapshot_find"], "quarterly-monitoring", year, quarter, stichtag
            )
        return {k: str(v) if not isinstance(v, int) else v for k, v in dict(row).items()}

    @app.get("/v1/snapshots/{snapshot_id}", tags=["snapshots"], response_model=None)
    async def snapshot(snapshot_id: uuid.UUID, principal: CurrentPrincipal) -> Response:
        """A frozen report, byte for byte as frozen (its SHA-256 as the ETag)."""
        principal.require(Role.COORDINATOR, Role.MINISTRY, Role.ADMIN)
        async with runtime.pool.acquire() as connection:
            row = await connection.fetchrow(SNAPSHOT_SQL["snapshot_body"], snapshot_id)
        if row is None:
            raise HTTPException(404, {"reason": "unknown-snapshot"})
        return Response(
            bytes(row["body"]),
            media_type="application/json",
            headers={"ETag": f'"{row["sha256"]}"'},
        )

    @app.post("/v1/admin/rebuilds", tags=["operations"], status_code=202)
    async def start_rebuild(principal: CurrentPrincipal) -> dict[str, Any]:
        """Rebuild the projections from the earliest offset into a new version (blue-green).

        The live version keeps serving until the new one has caught up; then the read path
        switches in one transaction. One rebuild at a time: 409 while one runs.
        """
        principal.require(Role.ADMIN)
        try:
            return await rebuilds.start()
        except RebuildRunning:
            raise HTTPException(409, {"reason": "rebuild-running"}) from None

    @app.get("/v1/admin/rebuilds/{rebuild_id}", tags=["operations"])
    async def rebuild_status(rebuild_id: uuid.UUID, principal: CurrentPrincipal) -> dict[str, Any]:
        """A rebuild's state (building, live, retired or failed), progress and speed."""
        principal.require(Role.ADMIN)
        status = await rebuilds.status(rebuild_id)
        if status is None:
            raise HTTPException(404, {"reason": "unknown-rebuild"})
        return status

    return app


PROVIDER_ID = r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"


def scope_of(principal: Principal, provider: str | None) -> str | None:
    """The provider a report is limited to, or None for the whole county; 403 if not allowed.

    A provider sees its own aggregates only. The coordinator and admins may narrow a report
    to one provider. The ministry, an external reader, gets county-wide tables only: tables
    narrowed to overlapping groups could be differenced against the county's to single out
    a person.
    """
    if Role.PROVIDER in principal.roles and not principal.roles & {Role.COORDINATOR, Role.ADMIN}:
        own = principal.provider
        if own is None or (provider is not None and provider != own):
            raise HTTPException(403, {"reason": "provider-scope", "field": "provider"})
        return own
    principal.require(Role.COORDINATOR, Role.MINISTRY, Role.ADMIN)
    if provider is not None and not principal.roles & {Role.COORDINATOR, Role.ADMIN}:
        raise HTTPException(403, {"reason": "county-wide-only", "field": "provider"})
    return provider
