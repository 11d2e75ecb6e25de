"""Wiring of the intake service: everything is created here, from settings, nothing at import."""

import uuid
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse

from durchstarten.auth import Principal, Role, TokenVerifier
from durchstarten.events import RegisterParticipant
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import COURSES_EVENTS
from durchstarten.messaging.broker import with_retries
from durchstarten.messaging.commands import parse_command
from durchstarten.messaging.dlq import redact_except
from durchstarten.messaging.errors import PermanentError
from durchstarten.messaging.inbound import subscribe_commands, subscribe_events
from durchstarten.service import ServiceRuntime
from intake import audit, repository
from intake.eligibility import BUILT_IN, load_programmes
from intake.handlers import ACCEPTED_COMMANDS, SERVICE, Actor, IntakeHandlers, rule_failures
from intake.matching import Identity, blocking_keys, name_similarity
from intake.settings import IntakeSettings
from intake.vault import Vault

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
SEARCH_SIMILARITY = 0.85


def create_app(settings: IntakeSettings | None = None) -> FastAPI:  # noqa: PLR0915  # all wiring in one place
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
    vault = Vault(settings.vault_key.get_secret_value())
    handlers = IntakeHandlers(
        runtime,
        vault=vault,
        programmes=programmes,
        active_programmes=settings.programmes,
        providers=settings.providers,
    )
    verifier = TokenVerifier(settings.auth())

    subscribe_commands(
        runtime, service=SERVICE, accepted=ACCEPTED_COMMANDS, execute=handlers.execute_record
    )
    subscribe_events(
        runtime, COURSES_EVENTS, group_id=f"{SERVICE}.levels", handle=handlers.on_courses_record
    )

    app = runtime.http_app(
        title="Durchstarten intake",
        description="Registers participants; the only service holding personal identifiers.",
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

    @app.post("/v1/commands", tags=["commands"], response_model=None)
    async def submit_command(request: Request, principal: CurrentPrincipal) -> JSONResponse:
        """Submit a command as a CloudEvent (structured JSON), as on the inbound topic.

        Providers send their own commands; county coordinators also decide exceptions and
        possible duplicates. The answer is the reply the outbound topic would carry.
        """
        actor = actor_of(principal)
        channel = actor.provider or f"staff.{actor.subject}"
        try:
            command = parse_command(
                await request.body(), provider=channel, accepted=ACCEPTED_COMMANDS
            )
        except PermanentError as error:
            return _error(
                422,
                error.reason,
                field=error.field,
                message_en=error.message_en,
                message_de=error.message_de,
            )
        outcome = await with_retries(lambda: handlers.execute(command, actor), what="http command")
        if outcome.violation is not None:
            v = outcome.violation
            status = (
                403
                if v.reason == ReasonCode.FORBIDDEN_ROLE
                else (404 if v.reason == ReasonCode.UNKNOWN_PARTICIPANT else 422)
            )
            return _error(
                status,
                v.reason,
                field=f"data.{v.field}" if v.field else None,
                message_en=v.message_en,
                message_de=v.message_de,
                failed_rules=[r.model_dump(mode="json") for r in rule_failures(v.failed_rules)],
            )
        body: dict[str, Any] = {
            "status": outcome.status or ("accepted" if outcome.accepted else "rejected"),
            "command_id": command.envelope.id,
            "participant_id": str(outcome.participant_id) if outcome.participant_id else None,
            "duplicate": outcome.duplicate,
            "failed_rules": [
                r.model_dump(mode="json") for r in rule_failures(outcome.failed_rules)
            ],
        }
        return JSONResponse(body, status_code=200 if outcome.duplicate else 201)

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
            state = await repository.load_state(connection, participant_id)
            visible = state is not None and (
                actor.coordinator
                or (
                    actor.provider is not None
                    and await repository.provider_linked(connection, participant_id, actor.provider)
                )
            )
            if state is None or not visible:
                raise HTTPException(404, {"reason": ReasonCode.UNKNOWN_PARTICIPANT})
            sealed = (await repository.load_sealed(connection, [participant_id])).get(
                participant_id
            )
            identity = vault.open(participant_id, sealed) if sealed else None
            if identity is not None and not actor.coordinator and actor.provider != state.provider:
                # Assigned later (the same person registered twice): names and birth date to
                # recognise them, but not the registering provider's contact data or reference.
                for private in ("phone", "email", "provider_reference"):
                    identity.pop(private, None)
            await audit.record(
                connection,
                actor=actor.subject,
                action="identity.read",
                participant_id=participant_id,
                purpose=purpose,
            )
            history = await repository.history(connection, participant_id)
        return {
            "participant_id": str(participant_id),
            "status": state.status,
            "programme": state.programme,
            "entry_date": state.entry_date.isoformat(),
            "exit_date": state.exit_date.isoformat() if state.exit_date else None,
            "identity": identity,
            "history": history,
        }

    @app.get("/v1/participants", tags=["participants"])
    async def search(
        principal: CurrentPrincipal,
        purpose: Purpose,
        name: Annotated[str, Query(min_length=2, max_length=200)],
        birth_date: date | None = None,
    ) -> dict[str, Any]:
        """Search registrations by name (and birth date): county coordinators only, audited."""
        principal.require(Role.COORDINATOR, Role.ADMIN)
        probe = Identity(name, "", birth_date or date(1950, 1, 1))
        tokens = [vault.index_token(key) for key in blocking_keys(probe)]
        found = []
        async with runtime.pool.acquire() as connection, connection.transaction():
            ids = await repository.candidates(connection, tokens)
            sealed = await repository.load_sealed(connection, ids)
            for participant_id, box in sealed.items():
                identity = vault.open(participant_id, box)
                other = Identity(
                    identity["given_name"],
                    identity["family_name"],
                    date.fromisoformat(identity["birth_date"]),
                )
                if name_similarity(probe, other) < SEARCH_SIMILARITY:
                    continue
                if birth_date is not None and other.birth_date.year != birth_date.year:
                    continue
                found.append({"participant_id": str(participant_id), "identity": identity})
            await audit.record(
                connection,
                actor=principal.subject,
                action="identity.search",
                participant_id=None,
                purpose=f"{purpose} ({len(found)} found)",
            )
        return {"results": found}

    @app.get("/v1/coordination/pending-exceptions", tags=["coordination"])
    async def pending_exceptions(principal: CurrentPrincipal) -> dict[str, Any]:
        """Registrations waiting for a coordinator's decision on an exception."""
        principal.require(Role.COORDINATOR, Role.ADMIN)
        async with runtime.pool.acquire() as connection:
            rows = await repository.pending_exceptions(connection)
        return {"pending": [_jsonable(row) for row in rows]}

    @app.get("/v1/coordination/possible-duplicates", tags=["coordination"])
    async def possible_duplicates(principal: CurrentPrincipal) -> dict[str, Any]:
        """Registrations flagged as possibly the same person as an earlier one."""
        principal.require(Role.COORDINATOR, Role.ADMIN)
        async with runtime.pool.acquire() as connection:
            rows = await repository.open_duplicate_reviews(connection)
        return {"open": [_jsonable(row) for row in rows]}

    @app.get("/v1/audit/verification", tags=["audit"])
    async def verify_audit(principal: CurrentPrincipal) -> dict[str, Any]:
        """Recompute the audit trail's hash chain; name the first broken entry."""
        principal.require(Role.ADMIN, Role.COORDINATOR)
        async with runtime.pool.acquire() as connection:
            result = await audit.verify(connection)
        return {
            "entries": result.entries,
            "intact": result.intact,
            "first_broken_seq": result.first_broken_seq,
        }

    return app


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, uuid.UUID | date) else v) for k, v in row.items()}


def _error(
    status: int,
    reason: str,
    *,
    field: str | None,
    message_en: str,
    message_de: str,
    failed_rules: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {
            "reason": reason,
            "field": field,
            "message_en": message_en,
            "message_de": message_de,
            "failed_rules": failed_rules or [],
        },
        status_code=status,
    )
