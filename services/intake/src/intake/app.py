"""Wiring of the intake service: everything is created here, from settings, nothing at import."""

import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query

from durchstarten.auth import Principal, Role, TokenVerifier
from durchstarten.clock import Clock
from durchstarten.events import RegisterParticipant
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import COURSES_EVENTS
from durchstarten.http_commands import add_command_endpoint
from durchstarten.jsonable import jsonable
from durchstarten.logging import get_logger
from durchstarten.messaging.commands import Actor
from durchstarten.messaging.dlq import redact_except
from durchstarten.messaging.inbound import subscribe_command_service
from durchstarten.pagination import PageRequest, paged
from durchstarten.retention import DeletionPeriods
from durchstarten.service import ServiceRuntime
from intake import identities, queries, repository
from intake.access_export import add_access_export_route
from intake.deletion import consent_ends, deletion_schedule
from intake.eligibility import BUILT_IN, load_programmes
from intake.handlers import NOT_FOUND, SERVICE, IntakeHandlers
from intake.identities import KeyRing
from intake.keystore import KeyStore
from intake.legal_holds import add_legal_hold_routes
from intake.rotation import check_configured
from intake.settings import IntakeSettings

log = get_logger(__name__)
MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
# The lists' pages (`limit`, `cursor`): each list's key, in its order.
SearchPage = Annotated[PageRequest, Depends(paged("participants", uuid.UUID))]
PendingPage = Annotated[
    PageRequest, Depends(paged("pending-exceptions", datetime.fromisoformat, uuid.UUID))
]
DuplicatesPage = Annotated[PageRequest, Depends(paged("possible-duplicates", uuid.UUID, uuid.UUID))]
OverridesPage = Annotated[PageRequest, Depends(paged("consent-overrides", int))]


def key_ring(runtime: ServiceRuntime, settings: IntakeSettings) -> KeyRing:
    """The vault and the key store, opened (and swept) before intake consumes a command."""
    vault = settings.vault()
    keys = KeyStore(settings.key_store_url.get_secret_value())
    ring = KeyRing(vault, keys)

    async def open_keys() -> None:
        await keys.open()
        await keys.sweep(runtime.pool)
        # A retired master key removed too early: refuse to run rather than fail per person.
        await check_configured(keys, vault)
        reindexed = await identities.index_birth_years(runtime.pool, ring)
        if reindexed:
            log.info("blind index: birth-year tokens added", identities=reindexed)

    runtime.add_resource(open_keys, keys.close)
    return ring


def scheduled_passes(
    runtime: ServiceRuntime, handlers: IntakeHandlers, settings: IntakeSettings
) -> DeletionPeriods:
    """Run the scheduled passes in the service; the deletion plan's periods.

    Consents and overrides that end are announced always; the deletion schedule runs unless
    turned off.
    """
    periods = settings.deletion_plan_rules().stores.vault.deletion_periods()
    passes = [consent_ends(handlers, interval_s=settings.deletion_interval_s)]
    if settings.deletion_schedule and periods.any:
        passes.append(
            deletion_schedule(handlers, periods=periods, interval_s=settings.deletion_interval_s)
        )
    for scheduled in passes:
        runtime.on_start(scheduled.start)
        runtime.on_stop(scheduled.stop)
    return periods


def add_coordination_routes(
    app: FastAPI, runtime: ServiceRuntime, verifier: TokenVerifier, clock: Clock
) -> None:
    """The county office's work lists: exceptions, duplicates, consent overrides."""
    CurrentPrincipal = Annotated[Principal, Depends(verifier.principal)]

    @app.get("/v1/coordination/pending-exceptions", tags=["coordination"])
    async def pending_exceptions(principal: CurrentPrincipal, page: PendingPage) -> dict[str, Any]:
        """Registrations waiting for a coordinator's decision on an exception, oldest first.

        A page at a time: `limit` rows, the next page with `cursor` set to `next_cursor`.
        """
        principal.require(Role.COORDINATOR, Role.ADMIN)
        async with runtime.pool.acquire() as connection:
            rows = await repository.pending_exceptions(
                connection,
                after=page.after_or_nones(2),
                limit=page.fetch_limit(),
                county=Actor.from_principal(principal).county,
            )
        return page.answer(
            "pending", rows, lambda r: (r["registered_at"], r["participant_id"]), jsonable
        )

    @app.get("/v1/coordination/possible-duplicates", tags=["coordination"])
    async def possible_duplicates(
        principal: CurrentPrincipal, page: DuplicatesPage
    ) -> dict[str, Any]:
        """Registrations flagged as possibly the same person as an earlier one.

        A page at a time: `limit` rows, the next page with `cursor` set to `next_cursor`.
        """
        principal.require(Role.COORDINATOR, Role.ADMIN)
        async with runtime.pool.acquire() as connection:
            rows = await repository.open_duplicate_reviews(
                connection,
                after=page.after_or_nones(2),
                limit=page.fetch_limit(),
                county=Actor.from_principal(principal).county,
            )
        return page.answer(
            "open", rows, lambda r: (r["participant_id"], r["candidate_id"]), jsonable
        )

    @app.get("/v1/coordination/consent-overrides", tags=["coordination"])
    async def consent_overrides(principal: CurrentPrincipal, page: OverridesPage) -> dict[str, Any]:
        """Every break-glass override, in order of decision, with whether it still lasts.

        For review; the reasons stay sealed. A page at a time (`limit`, `cursor`).
        """
        principal.require(Role.COORDINATOR, Role.ADMIN)
        async with runtime.pool.acquire() as connection:
            rows = await repository.open_overrides(
                connection,
                today=clock.today(),
                after=page.after_or_nones(1)[0],
                limit=page.fetch_limit(),
                county=Actor.from_principal(principal).county,
            )
        return page.answer("overrides", rows, lambda r: (r["override_id"],), jsonable)


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    """Build the intake service: Kafka subscribers, outbox relay and HTTP API."""
    settings = settings or IntakeSettings()
    runtime = ServiceRuntime(
        service=SERVICE,
        settings=settings,
        migrations=MIGRATIONS,
        with_outbox_relay=True,
        # Intake's commands carry names and birth dates: dead letters keep coarse fields only.
        dead_letter_redactor=redact_except(
            RegisterParticipant.non_identifying_fields or frozenset()
        ),
    )
    programmes = load_programmes(settings.programmes_dir or BUILT_IN)
    unknown = set(settings.programmes) - set(programmes)
    if unknown:
        msg = f"DURCHSTARTEN_PROGRAMMES names unknown programmes: {sorted(unknown)}"
        raise ValueError(msg)
    ring = key_ring(runtime, settings)
    handlers = IntakeHandlers(
        runtime,
        clock=Clock(settings.clock_today),
        ring=ring,
        programmes=programmes,
        active_programmes=settings.programmes,
    )
    verifier = TokenVerifier(settings.auth())
    periods = scheduled_passes(runtime, handlers, settings)

    subscribe_command_service(handlers, COURSES_EVENTS, group_id=f"{SERVICE}.levels")

    app = runtime.http_app(
        title="Durchstarten intake",
        description="Registers participants; the only service holding personal identifiers.",
        verifier=verifier,
    )
    CurrentPrincipal = Annotated[Principal, Depends(verifier.principal)]
    Purpose = Annotated[
        str,
        Header(
            alias="X-Purpose",
            min_length=3,
            max_length=200,
            description="Why the identifiers are read; kept in the audit trail.",
        ),
    ]

    def actor_of(principal: Principal) -> Actor:
        """Providers act for themselves; county staff decide exceptions and duplicates."""
        principal.require(Role.PROVIDER, Role.COORDINATOR, Role.ADMIN)
        actor = Actor.from_principal(principal)
        if not actor.coordinator and actor.provider not in settings.providers:
            # Replies go to the provider's outbound topic, which exists only for providers
            # this deployment is configured for.
            raise HTTPException(
                403,
                {
                    "reason": ReasonCode.UNKNOWN_PROVIDER,
                    "message_en": "This provider is not configured for this deployment.",
                    "message_de": "Dieser Träger ist für diese Installation nicht eingerichtet.",
                },
            )
        return actor

    add_command_endpoint(app, handlers, verifier.principal, not_found=NOT_FOUND, actor_of=actor_of)

    @app.get("/v1/participants/{participant_id}", tags=["participants"])
    async def read_participant(
        participant_id: uuid.UUID, principal: CurrentPrincipal, purpose: Purpose
    ) -> dict[str, Any]:
        """A participant's identifiers, status and dated histories (audited).

        A provider sees only participants it registered or was assigned; anyone else gets
        404, exactly as for an id that does not exist.
        """
        actor = actor_of(principal)
        async with runtime.pool.acquire() as connection, connection.transaction():
            record = await queries.participant_record(
                connection, ring, participant_id, actor=actor, purpose=purpose, periods=periods
            )
        if record is None:
            raise HTTPException(404, {"reason": ReasonCode.UNKNOWN_PARTICIPANT})
        return record

    @app.get("/v1/participants", tags=["participants"])
    async def search(
        principal: CurrentPrincipal,
        purpose: Purpose,
        name: Annotated[str, Query(min_length=2, max_length=200)],
        page: SearchPage,
        birth_date: date | None = None,
    ) -> dict[str, Any]:
        """Search registrations by name (and birth date): county coordinators only, audited.

        Results in pseudonym order, a page at a time (`limit`, `cursor` from `next_cursor`).
        """
        principal.require(Role.COORDINATOR, Role.ADMIN)
        async with runtime.pool.acquire() as connection, connection.transaction():
            found, next_cursor = await queries.search(
                connection,
                ring,
                name=name,
                birth_date=birth_date,
                subject=principal.subject,
                purpose=purpose,
                page=page,
                county=Actor.from_principal(principal).county,
            )
        return {"results": found, "next_cursor": next_cursor}

    add_coordination_routes(app, runtime, verifier, handlers.clock)
    add_legal_hold_routes(app, runtime, ring, verifier)
    add_access_export_route(app, runtime, ring, verifier, periods)
    return app
