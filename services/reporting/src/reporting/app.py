"""Wiring of the reporting service: projections from the domain topics and the report API."""

import hashlib
import importlib.util
import json
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Response
from fastapi.responses import FileResponse, HTMLResponse
from faststream.kafka.annotations import KafkaMessage

from durchstarten.auth import Principal, Role, TokenVerifier
from durchstarten.db.sql import SqlFiles
from durchstarten.events.topics import DOMAIN_EVENT_TOPICS
from durchstarten.messaging.broker import subscriber_options
from durchstarten.service import ServiceRuntime
from reporting.disclosure import protect_count
from reporting.exports import to_csv, to_xlsx
from reporting.projections import PROJECTION, Projector, participant_count
from reporting.reports import (
    courses_and_funds,
    dashboard_data,
    outcomes,
    quarterly_monitoring,
)
from reporting.settings import ReportingSettings

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
    verifier = TokenVerifier(settings.auth())

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

    @app.get("/v1/reports/participants", tags=["reports"])
    async def participants(principal: CurrentPrincipal) -> dict[str, Any]:
        """Participants registered so far; small counts are suppressed."""
        principal.require(Role.COORDINATOR, Role.MINISTRY, Role.ADMIN)
        async with runtime.pool.acquire() as connection:
            count = await participant_count(connection)
        return {
            "participants": protect_count(count, min_cell_count=settings.min_cell_count),
            "generated_at": datetime.now(UTC).isoformat(),
            "min_cell_count": settings.min_cell_count,
        }

    @app.get("/v1/reports/quarterly-monitoring", tags=["reports"])
    async def quarterly(
        principal: CurrentPrincipal,
        year: Annotated[int, Query(ge=2019, le=2100)],
        quarter: Annotated[int, Query(ge=1, le=4)],
        format: Annotated[
            Literal["json", "csv", "xlsx"], Query()
        ] = "json",  # the public parameter name
    ) -> Any:
        """Entries, exits and caseload per municipality and module for a calendar quarter.

        Fixed periods only (no free date ranges): overlapping queries cannot be differenced
        to single out a person. `format=csv` or `format=xlsx` gives the same tables as files.
        """
        principal.require(Role.COORDINATOR, Role.MINISTRY, Role.ADMIN)
        async with runtime.pool.acquire() as connection:
            report = await quarterly_monitoring(
                connection, year=year, quarter=quarter, min_cell_count=settings.min_cell_count
            )
        name = f"quarterly-monitoring-{year}-q{quarter}"
        if format == "csv":
            return Response(
                to_csv(report),
                media_type="text/csv; charset=utf-8",
                headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
            )
        if format == "xlsx":
            return Response(
                to_xlsx(report),
                media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
            )
        return report

    @app.get("/v1/reports/outcomes", tags=["reports"])
    async def outcomes_report(
        principal: CurrentPrincipal,
        year: Annotated[int, Query(ge=2019, le=2100)],
        quarter: Annotated[int, Query(ge=1, le=4)],
    ) -> dict[str, Any]:
        """Placements of a calendar quarter, placement rates and time to placement.

        The rates carry their definitions; the median is over people first placed then.
        """
        principal.require(Role.COORDINATOR, Role.MINISTRY, Role.ADMIN)
        async with runtime.pool.acquire() as connection:
            return await outcomes(
                connection, year=year, quarter=quarter, min_cell_count=settings.min_cell_count
            )

    @app.get("/v1/reports/courses", tags=["reports"])
    async def courses_report(
        principal: CurrentPrincipal, year: Annotated[int, Query(ge=2019, le=2100)]
    ) -> dict[str, Any]:
        """Enrolments, completions, drop-outs, exam results, pass rate and funds of a year."""
        principal.require(Role.COORDINATOR, Role.MINISTRY, Role.ADMIN)
        async with runtime.pool.acquire() as connection:
            return await courses_and_funds(
                connection, year=year, min_cell_count=settings.min_cell_count
            )

    @app.get("/v1/dashboard/data", tags=["dashboard"])
    async def dashboard_numbers(principal: CurrentPrincipal) -> dict[str, Any]:
        """The dashboard's numbers, disclosure-controlled."""
        principal.require(Role.COORDINATOR, Role.MINISTRY, Role.ADMIN)
        async with runtime.pool.acquire() as connection:
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
        year: Annotated[int, Query(ge=2019, le=2100)],
        quarter: Annotated[int, Query(ge=1, le=4)],
        stichtag: date,
    ) -> dict[str, Any]:
        """Freeze the quarterly table as it stands (reporting date `stichtag`).

        The stored bytes are what `GET /v1/snapshots/{id}` returns for ever after; freezing
        the same report and date again returns the first snapshot.
        """
        principal.require(Role.COORDINATOR, Role.ADMIN)
        async with runtime.pool.acquire() as connection, connection.transaction():
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

    return app
