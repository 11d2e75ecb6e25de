"""Wiring of the reporting service: projections from the domain topics and the report API."""

import importlib.util
import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, HTMLResponse
from faststream.kafka.annotations import KafkaMessage

from durchstarten.auth import Principal, PrincipalDependency, Role, TokenVerifier
from durchstarten.counties import Counties
from durchstarten.events.topics import DOMAIN_EVENT_TOPICS
from durchstarten.messaging.broker import subscriber_options
from durchstarten.service import ServiceRuntime
from durchstarten.tracing import consuming_batch
from reporting.counties import configure
from reporting.projections import PROJECTION, Projector
from reporting.rebuild import Rebuilds, add_rebuild_endpoints
from reporting.release import Release
from reporting.report_routes import (
    CountyKey,
    Format,
    Period,
    Quarter,
    Year,
    add_report_endpoints,
    county_of,
    report_named,
)
from reporting.resume import ResumeFromCheckpoints
from reporting.serving import ReportResponses, add_release_endpoints
from reporting.settings import ReportingSettings
from reporting.snapshots import freeze_quarterly_monitoring, frozen_body

SERVICE = "reporting"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
STATIC = Path(__file__).parent / "static"
DASHBOARD = STATIC / "dashboard.html"
_PLOTLY = importlib.util.find_spec("plotly")
CACHED = {"Cache-Control": "max-age=3600"}
"""Static assets may be kept an hour (everything else is `no-store`: durchstarten.http_edge)."""
PLOTLY_JS = (
    Path(_PLOTLY.origin or "").parent / "package_data" / "plotly.min.js" if _PLOTLY else Path()
)


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    """Build the reporting service: projecting consumer, report endpoints, or both.

    `DURCHSTARTEN_REPORTING_ROLE` chooses (`ReportingRole`). Health, readiness and the
    audit trail's routes are in every role; rebuilds are the projector's.
    """
    settings = settings or ReportingSettings()
    runtime = ServiceRuntime(
        service=SERVICE, settings=settings, migrations=MIGRATIONS, with_outbox_relay=False
    )

    async def configure_counties(connection: asyncpg.Connection) -> None:
        # The county files as reporting's SQL reads them, and the county lens on the
        # projection versions in use (a migration cannot know the versions' tables).
        await configure(connection, settings.counties())

    runtime.on_migrated(configure_counties)
    verifier = TokenVerifier(settings.auth())
    app = runtime.http_app(
        title="Durchstarten reporting",
        description="Official figures of the programme, disclosure-controlled.",
        verifier=verifier,
    )
    role = settings.reporting_role
    if role.projects:
        rebuilds = Rebuilds(runtime, settings)
        runtime.on_stop(rebuilds.stop)
        add_projection(runtime, settings)
        add_rebuild_endpoints(app, rebuilds, verifier.principal)
    if role.serves_reports:
        add_report_api(app, runtime, settings, verifier)
    return app


def add_projection(runtime: ServiceRuntime, settings: ReportingSettings) -> None:
    """The projecting consumer: every domain topic, in batches, resumed from checkpoints."""
    projector = Projector(runtime)

    async def on_events(message: KafkaMessage) -> None:
        records = message.raw_message
        with consuming_batch(runtime.tracing.tracer(), records, "project domain events"):
            await projector.apply_batch(records)

    # Applied as a call, not as a decorator: FastStream's overloads cannot see through
    # **options, and an untyped decorator would leave `on_events` untyped.
    subscribe = runtime.broker.subscriber(
        *DOMAIN_EVENT_TOPICS,
        group_id=PROJECTION,
        # Late-bound: the consumer exists once the subscriber has started.
        listener=ResumeFromCheckpoints(runtime, PROJECTION, lambda: subscribe.consumer),
        batch=True,
        max_records=settings.projection_batch_size,
        batch_timeout_ms=50,
        **subscriber_options(settings),
    )
    subscribe(on_events)


def add_report_api(
    app: FastAPI, runtime: ServiceRuntime, settings: ReportingSettings, verifier: TokenVerifier
) -> None:
    """Reports, releases, snapshots and the dashboard, from the newest release."""
    CurrentPrincipal = Annotated[Principal, Depends(verifier.principal)]

    responses = ReportResponses(runtime, settings)

    counties = settings.counties()

    async def county_release(principal: Principal, request: Request, county: str | None) -> Release:
        principal.require(Role.COORDINATOR, Role.MINISTRY, Role.ADMIN)
        chosen = county_of(principal, county, counties)
        return (await responses.release(request)).county(chosen)

    @app.get("/v1/reports/participants", tags=["reports"])
    async def participants(
        principal: CurrentPrincipal, request: Request, county: CountyKey = None
    ) -> dict[str, Any]:
        """A county's participants so far, under the same protection as every table."""
        release = await county_release(principal, request, county)
        return {**_page(release, "participants"), "generated_at": release.generated_at}

    @app.get("/v1/reports/state-monitoring", tags=["reports"], response_model=None)
    async def state_monitoring(
        principal: CurrentPrincipal,
        request: Request,
        year: Year,
        quarter: Quarter,
        format: Format = "json",  # the public parameter name
    ) -> Response:
        """The state table of a quarter.

        Every county's entries, exits and caseload (also per module) beside the state's own
        totals, in which a person who moved between counties is one person. The ministry's
        and admins' (403 for anyone else); one pattern of withheld cells with every county's
        tables, so no state total minus the other counties reveals a county's hidden cell.
        """
        principal.require(Role.MINISTRY, Role.ADMIN)
        return await responses.state_response(request, Period(year, quarter), format)

    add_report_endpoints(app, responses, verifier.principal)
    add_release_endpoints(app, responses, verifier.principal)

    @app.get("/v1/dashboard/data", tags=["dashboard"])
    async def dashboard_numbers(
        principal: CurrentPrincipal, request: Request, county: CountyKey = None
    ) -> dict[str, Any]:
        """A county's dashboard numbers, under the same protection as every table."""
        return _page(await county_release(principal, request, county), "dashboard")

    add_dashboard_page(app)

    add_snapshot_endpoints(app, runtime, responses, counties, verifier.principal)


def add_snapshot_endpoints(
    app: FastAPI,
    runtime: ServiceRuntime,
    responses: ReportResponses,
    counties: Counties,
    principal: PrincipalDependency,
) -> None:
    """Freezing a county's quarterly table, and reading a frozen one back."""
    CurrentPrincipal = Annotated[Principal, Depends(principal)]

    @app.post("/v1/snapshots/quarterly-monitoring", tags=["snapshots"], status_code=201)
    async def freeze(
        caller: CurrentPrincipal,
        year: Year,
        quarter: Quarter,
        stichtag: date,
        county: CountyKey = None,
    ) -> dict[str, Any]:
        """Freeze the county's quarterly table as it stands now (reporting date `stichtag`).

        The table frozen is the one served now, from a release of the newest data; its
        stored bytes are what `GET /v1/snapshots/{id}` returns for ever after, and every
        later release keeps them as published. Freezing the same report and date again
        returns the first snapshot.
        """
        caller.require(Role.COORDINATOR, Role.ADMIN)
        chosen = county_of(caller, county, counties)
        release, source = await responses.holding(
            report_named("quarterly-monitoring"), Period(year, quarter), chosen, None, fresh=True
        )
        body = release.body(source)
        if body is None:  # `holding` found it
            raise HTTPException(503, {"reason": "release-incomplete"})
        async with runtime.pool.acquire() as connection:
            return await freeze_quarterly_monitoring(
                connection,
                body,
                year=year,
                quarter=quarter,
                stichtag=stichtag,
                frozen_by=caller.subject,
                county=chosen,
            )

    @app.get("/v1/snapshots/{snapshot_id}", tags=["snapshots"], response_model=None)
    async def snapshot(snapshot_id: uuid.UUID, caller: CurrentPrincipal) -> Response:
        """A frozen report, byte for byte as frozen (its SHA-256 as the ETag)."""
        caller.require(Role.COORDINATOR, Role.MINISTRY, Role.ADMIN)
        async with runtime.pool.acquire() as connection:
            frozen = await frozen_body(connection, snapshot_id)
        if frozen is None:
            raise HTTPException(404, {"reason": "unknown-snapshot"})
        body, sha256, of_county = frozen
        try:
            county_of(caller, of_county, counties)
        except HTTPException:
            # Another county's snapshot is unknown to this caller, as one that does not exist.
            raise HTTPException(404, {"reason": "unknown-snapshot"}) from None
        return Response(body, media_type="application/json", headers={"ETag": f'"{sha256}"'})


def _page(release: Release, source: str) -> dict[str, Any]:
    body = release.body(source)
    if body is None:  # every release holds the county pages
        raise HTTPException(503, {"reason": "release-incomplete"})
    return body


def add_dashboard_page(app: FastAPI) -> None:
    """The dashboard page and its script, style and charting library, all served from here.

    No inline script or style (the Content-Security-Policy allows the service's own files
    only), and no token in any URL: the page takes it from its fragment once or asks for it
    in its own form, and sends it as a bearer token.
    """

    @app.get("/dashboard", tags=["dashboard"], response_class=HTMLResponse)
    async def dashboard_page() -> HTMLResponse:
        """The dashboard page; it fetches its numbers with the caller's bearer token."""
        return HTMLResponse(DASHBOARD.read_text(encoding="utf-8"))

    @app.get("/static/plotly.min.js", tags=["dashboard"], response_class=FileResponse)
    async def plotly_js() -> FileResponse:
        """The charting library, served from the installed plotly package (no CDN)."""
        return FileResponse(PLOTLY_JS, media_type="text/javascript", headers=CACHED)

    @app.get("/static/dashboard.js", include_in_schema=False)
    async def dashboard_js() -> FileResponse:
        return FileResponse(STATIC / "dashboard.js", media_type="text/javascript")

    @app.get("/static/dashboard.css", include_in_schema=False)
    async def dashboard_css() -> FileResponse:
        return FileResponse(STATIC / "dashboard.css", media_type="text/css")
