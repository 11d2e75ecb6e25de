"""Wiring of the reporting service: projections from the domain topics and the report API."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query
from faststream.kafka.annotations import KafkaMessage

from durchstarten.auth import Principal, Role, TokenVerifier
from durchstarten.events.topics import DOMAIN_EVENT_TOPICS
from durchstarten.messaging.broker import subscriber_options
from durchstarten.service import ServiceRuntime
from reporting.disclosure import protect_count
from reporting.projections import PROJECTION, Projector, participant_count
from reporting.reports import quarterly_monitoring
from reporting.settings import ReportingSettings

SERVICE = "reporting"
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
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
    ) -> dict[str, Any]:
        """Entries, exits and caseload per municipality and module for a calendar quarter.

        Fixed periods only (no free date ranges): overlapping queries cannot be differenced
        to single out a person.
        """
        principal.require(Role.COORDINATOR, Role.MINISTRY, Role.ADMIN)
        async with runtime.pool.acquire() as connection:
            return await quarterly_monitoring(
                connection, year=year, quarter=quarter, min_cell_count=settings.min_cell_count
            )

    return app
