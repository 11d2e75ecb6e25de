"""Wiring of the intake service: everything is created here, from settings, nothing at import."""

from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from faststream.kafka.annotations import KafkaMessage

from durchstarten.auth import Principal, Role, TokenVerifier
from durchstarten.events import RegisterParticipant
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import inbound
from durchstarten.messaging.broker import subscriber_options, with_retries
from durchstarten.messaging.commands import parse_command
from durchstarten.messaging.dlq import redact_except
from durchstarten.messaging.errors import PermanentError
from durchstarten.service import ServiceRuntime
from intake.handlers import ACCEPTED_COMMANDS, SERVICE, IntakeHandlers
from intake.settings import IntakeSettings

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


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
    handlers = IntakeHandlers(runtime)
    verifier = TokenVerifier(settings.auth())

    topics = [inbound(provider, SERVICE) for provider in settings.providers]

    # FastStream's overloads cannot see through **options, hence the ignore.
    @runtime.broker.subscriber(*topics, group_id=SERVICE, **subscriber_options(settings))  # type: ignore[untyped-decorator]
    async def on_command(message: KafkaMessage) -> None:
        await handlers.on_inbound_record(message.raw_message)

    app = runtime.http_app(
        title="Durchstarten intake",
        description="Registers participants; the only service holding personal identifiers.",
    )
    CurrentPrincipal = Annotated[Principal, Depends(verifier.principal)]

    @app.post("/v1/commands", tags=["commands"], response_model=None)
    async def submit_command(request: Request, principal: CurrentPrincipal) -> JSONResponse:
        """Submit a command as a CloudEvent (structured JSON), as on the inbound topic."""
        principal.require(Role.PROVIDER)
        provider = principal.provider
        if provider is None or provider not in settings.providers:
            # Replies go to the provider's outbound topic, which exists only for providers
            # this deployment is configured for.
            return _error(
                403,
                ReasonCode.UNKNOWN_PROVIDER,
                None,
                "This provider is not configured for this deployment.",
                "Dieser Träger ist für diese Installation nicht eingerichtet.",
            )
        try:
            command = parse_command(
                await request.body(), provider=provider, accepted=ACCEPTED_COMMANDS
            )
        except PermanentError as error:
            return _error(422, error.reason, error.field, error.message_en, error.message_de)
        outcome = await with_retries(lambda: handlers.execute(command), what="http command")
        if outcome.violation is not None:
            violation = outcome.violation
            return _error(
                422, violation.reason, violation.field, violation.message_en, violation.message_de
            )
        body: dict[str, Any] = {
            "status": "accepted" if outcome.accepted else "rejected",
            "command_id": command.envelope.id,
            "participant_id": str(outcome.participant_id) if outcome.participant_id else None,
            "duplicate": outcome.duplicate,
        }
        return JSONResponse(body, status_code=200 if outcome.duplicate else 201)

    return app


def _error(
    status: int, reason: str, field: str | None, message_en: str, message_de: str
) -> JSONResponse:
    return JSONResponse(
        {"reason": reason, "field": field, "message_en": message_en, "message_de": message_de},
        status_code=status,
    )
