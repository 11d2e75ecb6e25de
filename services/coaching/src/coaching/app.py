"""Wiring of the coaching service: provider commands, intake's events, due lists and cases."""

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, FastAPI, HTTPException

from coaching import repository
from coaching.handlers import SERVICE, CoachingHandlers
from coaching.settings import CoachingSettings
from durchstarten import audit
from durchstarten.auth import Principal, Role, TokenVerifier
from durchstarten.clock import Clock
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import INTAKE_EVENTS
from durchstarten.http_commands import add_command_endpoint
from durchstarten.jsonable import jsonable
from durchstarten.messaging.inbound import subscribe_command_service
from durchstarten.pagination import PageRequest, paged
from durchstarten.service import ServiceRuntime

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"
# The due lists' pages (`limit`, `cursor`): each list's key, in its order.
ReferralsPage = Annotated[
    PageRequest, Depends(paged("due-referrals", date.fromisoformat, uuid.UUID))
]
FollowUpsPage = Annotated[
    PageRequest, Depends(paged("due-follow-ups", date.fromisoformat, uuid.UUID, str))
]


def create_app(settings: CoachingSettings | None = None) -> FastAPI:  # all wiring in one place
    """Build the coaching service."""
    settings = settings or CoachingSettings()
    runtime = ServiceRuntime(
        service=SERVICE, settings=settings, migrations=MIGRATIONS, with_outbox_relay=True
    )
    clock = Clock(settings.clock_today)
    handlers = CoachingHandlers(
        runtime,
        clock=clock,
        sites=settings.site_map(),
        hold_for=timedelta(seconds=settings.hold_unknown_s),
    )
    verifier = TokenVerifier(settings.auth())
    subscribe_command_service(handlers, INTAKE_EVENTS, group_id=f"{SERVICE}.participants")

    app = runtime.http_app(
        title="Durchstarten coaching",
        description="Coaching (F1) and participation management (F6): cases, sessions, "
        "referrals, placements and follow-ups.",
        verifier=verifier,
    )
    CurrentPrincipal = Annotated[Principal, Depends(verifier.principal)]
    Purpose = Annotated[str, audit.purpose_header()]

    def provider_or_staff(principal: Principal) -> str | None:
        """The provider whose rows the caller sees; None for county staff (all rows)."""
        if principal.roles & {Role.COORDINATOR, Role.ADMIN}:
            return None
        principal.require(Role.PROVIDER)
        if principal.provider not in settings.providers:
            raise HTTPException(403, {"reason": ReasonCode.UNKNOWN_PROVIDER})
        return principal.provider

    async def audit_list(
        connection: asyncpg.Connection,
        principal: Principal,
        action: str,
        rows: list[dict[str, Any]],
        purpose: str,
    ) -> None:
        """Record whose rows a due list's page shows."""
        await audit.record_reads(
            connection,
            actor=principal.subject,
            action=action,
            participant_ids=[row["participant_id"] for row in rows],
            purpose=purpose,
        )

    add_command_endpoint(
        app,
        handlers,
        verifier.principal,
        not_found=frozenset({ReasonCode.UNKNOWN_CASE, ReasonCode.UNKNOWN_PARTICIPANT}),
    )

    @app.get("/v1/cases/{case_id}", tags=["cases"])
    async def case_view(
        case_id: uuid.UUID, principal: CurrentPrincipal, purpose: Purpose = "case work"
    ) -> dict[str, Any]:
        """A case with its sessions, referrals, placements (newest = current) and follow-ups.

        Audited: who read whose case, and why (`X-Purpose`).
        """
        provider = provider_or_staff(principal)
        async with runtime.pool.acquire() as connection, connection.transaction():
            details = await repository.case_details(connection, case_id)
            if details is None or (provider is not None and details["provider"] != provider):
                raise HTTPException(404, {"reason": ReasonCode.UNKNOWN_CASE})
            await audit.record_reads(
                connection,
                actor=principal.subject,
                action="case.read",
                participant_ids=[details["participant_id"]],
                purpose=purpose,
            )
        view: dict[str, Any] = jsonable(details)
        return view

    @app.get("/v1/due/referrals", tags=["due lists"])
    async def due_referrals(
        principal: CurrentPrincipal,
        page: ReferralsPage,
        purpose: Purpose = "case work",
        on: date | None = None,
    ) -> dict[str, Any]:
        """Referrals still unanswered after the configured number of days (as of `on`).

        Oldest first, a page at a time: `limit` rows, the next with `cursor` = `next_cursor`
        (pass `on` = `as_of` with it to page through the same day's list).
        """
        provider = provider_or_staff(principal)
        day = on or clock.today()
        async with runtime.pool.acquire() as connection, connection.transaction():
            rows = await repository.due_referrals(
                connection,
                day,
                settings.referral_answer_days,
                provider,
                after=page.after_or_nones(2),
                limit=page.fetch_limit(),
            )
            # The page served, not the one row read ahead to tell whether another follows.
            shown = rows[: page.limit]
            await audit_list(connection, principal, "due-referrals.read", shown, purpose)
        return {
            "as_of": day.isoformat(),
            **page.answer("due", rows, lambda r: (r["made_on"], r["referral_id"]), jsonable),
        }

    @app.get("/v1/due/follow-ups", tags=["due lists"])
    async def due_follow_ups(
        principal: CurrentPrincipal,
        page: FollowUpsPage,
        purpose: Purpose = "case work",
        on: date | None = None,
    ) -> dict[str, Any]:
        """Follow-ups (4 weeks, 6 months after exit) due by `on` and not yet recorded.

        Earliest due first, a page at a time: `limit` rows, the next with `cursor` =
        `next_cursor` (pass `on` = `as_of` with it to page through the same day's list).
        """
        provider = provider_or_staff(principal)
        day = on or clock.today()
        async with runtime.pool.acquire() as connection, connection.transaction():
            rows = await repository.due_follow_ups(
                connection, day, provider, after=page.after_or_nones(3), limit=page.fetch_limit()
            )
            shown = rows[: page.limit]
            await audit_list(connection, principal, "due-follow-ups.read", shown, purpose)
        return {
            "as_of": day.isoformat(),
            **page.answer(
                "due",
                rows,
                lambda r: (r["due_on"], r["participant_id"], r["time_window"]),
                jsonable,
            ),
        }

    return app
