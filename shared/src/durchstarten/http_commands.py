"""The HTTP twin of an inbound topic: `POST /v1/commands` for providers.

The body is the same CloudEvent a provider would write to `inbound.<provider>.<service>`;
the provider comes from the bearer token. The answer is the reply the outbound topic gets,
with an HTTP status: 201 accepted, 202 held, 200 repeated, 404/422 rejected.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

from durchstarten.auth import Principal, Role
from durchstarten.events.reasons import ReasonCode
from durchstarten.messaging.broker import with_retries
from durchstarten.messaging.command_service import CommandService
from durchstarten.messaging.commands import parse_command
from durchstarten.messaging.errors import PermanentError

STATUS = {"accepted": 201, "held": 202, "duplicate": 200}


def _problem(status: int, reason: str, field: str | None, en: str, de: str) -> JSONResponse:
    body: dict[str, Any] = {"reason": reason, "field": field, "message_en": en, "message_de": de}
    return JSONResponse(body, status_code=status)


def add_command_endpoint(
    app: FastAPI,
    service: CommandService,
    principal: Callable[..., Principal],
    *,
    not_found: frozenset[ReasonCode],
) -> None:
    """Register `POST /v1/commands`; rejections with a `not_found` reason answer 404."""

    @app.post("/v1/commands", tags=["commands"], response_model=None)
    async def submit_command(
        request: Request,
        caller: Principal = Depends(principal),  # noqa: B008  # FastAPI's way
    ) -> JSONResponse:
        """Submit a command as a CloudEvent, exactly as on the provider's inbound topic."""
        caller.require(Role.PROVIDER)
        provider = caller.provider
        if provider is None or provider not in service.providers:
            raise HTTPException(403, {"reason": ReasonCode.UNKNOWN_PROVIDER})
        try:
            command = parse_command(
                await request.body(), provider=provider, accepted=service.accepted
            )
        except PermanentError as error:
            return _problem(422, error.reason, error.field, error.message_en, error.message_de)
        outcome = await with_retries(lambda: service.execute(command), what="http command")
        if outcome.violation is not None:
            v = outcome.violation
            status = 404 if v.reason in not_found else 422
            field = f"data.{v.field}" if v.field else None
            return _problem(status, v.reason, field, v.message_en, v.message_de)
        return JSONResponse(
            {"status": outcome.status, "command_id": command.envelope.id},
            status_code=STATUS.get(outcome.status, 200),
        )
