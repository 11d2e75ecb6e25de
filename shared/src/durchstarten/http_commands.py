"""The HTTP twin of an inbound topic: `POST /v1/commands`.

The body is the same CloudEvent a provider would write to `inbound.<provider>.<service>`;
who sends it comes from the bearer token (by default: a configured provider's system). The
answer is the reply the outbound topic gets, with an HTTP status: 201 accepted, 202 held,
200 repeated, 403 forbidden, 404 (reasons the service names) or 422 rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from durchstarten.auth import Principal, PrincipalDependency, Role
from durchstarten.domain import RuleViolation
from durchstarten.events.reasons import ReasonCode
from durchstarten.messaging.broker import with_retries
from durchstarten.messaging.command_service import CommandService, Outcome
from durchstarten.messaging.commands import Actor, parse_command
from durchstarten.messaging.errors import PermanentError

STATUS = {"accepted": 201, "held": 202, "duplicate": 200}


def problem(
    status: int,
    reason: str,
    field: str | None,
    en: str,
    de: str,
    *,
    failed_rules: list[dict[str, Any]] | None = None,
) -> JSONResponse:
    """An error answer: the reason code, the field and the rule in English and German."""
    body: dict[str, Any] = {
        "reason": reason,
        "field": field,
        "message_en": en,
        "message_de": de,
        "failed_rules": failed_rules or [],
    }
    return JSONResponse(body, status_code=status)


def answer(outcome: Outcome, command_id: str, not_found: frozenset[ReasonCode]) -> JSONResponse:
    """The HTTP answer to a carried-out, held, repeated or rejected command."""
    if outcome.violation is not None:
        return _rejected(outcome.violation, not_found)
    decision = outcome.decision
    body: dict[str, Any] = {
        "status": (decision.status if decision else None) or outcome.status,
        "command_id": command_id,
        "participant_id": str(decision.participant) if decision and decision.participant else None,
        "duplicate": outcome.status == "duplicate",
        "failed_rules": [r.model_dump(mode="json") for r in decision.failed_rules]
        if decision
        else [],
    }
    return JSONResponse(body, status_code=STATUS.get(outcome.status, 200))


def _rejected(violation: RuleViolation, not_found: frozenset[ReasonCode]) -> JSONResponse:
    if violation.reason == ReasonCode.FORBIDDEN_ROLE:
        status = 403
    elif violation.reason in not_found:
        status = 404
    else:
        status = 422
    return problem(
        status,
        violation.reason,
        f"data.{violation.field}" if violation.field else None,
        violation.message_en,
        violation.message_de,
        failed_rules=[r.model_dump(mode="json") for r in violation.failed_rules],
    )


def provider_systems(providers: frozenset[str]) -> Callable[[Principal], Actor]:
    """Callers allowed to send commands: the configured providers' systems, nobody else."""

    def actor_of(principal: Principal) -> Actor:
        principal.require(Role.PROVIDER)
        if principal.provider is None or principal.provider not in providers:
            raise HTTPException(403, {"reason": ReasonCode.UNKNOWN_PROVIDER})
        return Actor(subject=principal.subject, provider=principal.provider, coordinator=False)

    return actor_of


def add_command_endpoint(
    app: FastAPI,
    service: CommandService,
    principal: PrincipalDependency,
    *,
    not_found: frozenset[ReasonCode],
    actor_of: Callable[[Principal], Actor] | None = None,
) -> None:
    """Register `POST /v1/commands`; rejections with a `not_found` reason answer 404.

    `actor_of` says who a caller acts as, or refuses them (403); by default only the
    configured providers' systems may send commands.
    """
    sender_of = actor_of or provider_systems(service.providers)

    @app.post("/v1/commands", tags=["commands"], response_model=None)
    async def submit_command(
        request: Request,
        caller: Principal = Depends(principal),  # noqa: B008  # FastAPI's way to inject
    ) -> JSONResponse:
        """Submit a command as a CloudEvent, exactly as on the provider's inbound topic."""
        actor = sender_of(caller)
        try:
            command = parse_command(
                await request.body(),
                provider=actor.channel,
                accepted=service.accepted,
                sender=actor,
            )
        except PermanentError as error:
            return problem(422, error.reason, error.field, error.message_en, error.message_de)
        outcome = await with_retries(lambda: service.execute(command), what="http command")
        return answer(outcome, command.envelope.id, not_found)
