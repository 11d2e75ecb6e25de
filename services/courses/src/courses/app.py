"""Wiring of the courses service: provider commands, participant knowledge, course views."""

import uuid
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException

from courses import repository
from courses.handlers import SERVICE, CoursesHandlers
from courses.settings import CoursesSettings
from durchstarten import audit
from durchstarten.auth import Principal, Role, TokenVerifier
from durchstarten.clock import Clock
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import COACHING_EVENTS, INTAKE_EVENTS
from durchstarten.http_commands import add_command_endpoint
from durchstarten.jsonable import jsonable
from durchstarten.messaging.inbound import subscribe_command_service
from durchstarten.service import ServiceRuntime

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def create_app(settings: CoursesSettings | None = None) -> FastAPI:
    """Build the courses service."""
    settings = settings or CoursesSettings()
    runtime = ServiceRuntime(
        service=SERVICE, settings=settings, migrations=MIGRATIONS, with_outbox_relay=True
    )
    handlers = CoursesHandlers(
        runtime,
        clock=Clock(settings.clock_today),
        rates=settings.funding_rates,
        hold_for=timedelta(seconds=settings.hold_unknown_s),
    )
    verifier = TokenVerifier(settings.auth())
    subscribe_command_service(
        handlers, INTAKE_EVENTS, COACHING_EVENTS, group_id=f"{SERVICE}.participants"
    )

    app = runtime.http_app(
        title="Durchstarten courses",
        description="Modules F2, F3, F4: catalogue, enrolment and waitlist, attendance in "
        "teaching units, DTZ results, certificates and the funding facts.",
        verifier=verifier,
    )
    CurrentPrincipal = Annotated[Principal, Depends(verifier.principal)]
    Purpose = Annotated[str, audit.purpose_header()]

    add_command_endpoint(
        app, handlers, verifier.principal, not_found=frozenset({ReasonCode.UNKNOWN_COURSE})
    )

    @app.get("/v1/courses/{course_id}", tags=["courses"])
    async def course_view(
        course_id: uuid.UUID,
        principal: CurrentPrincipal,
        purpose: Purpose = "course administration",
    ) -> dict[str, Any]:
        """A course with its places, waitlist (in order) and teaching delivered per part.

        Audited: one entry per participant on the roster, with who read it and why.
        """
        staff = bool(principal.roles & {Role.COORDINATOR, Role.ADMIN})
        if not staff:
            principal.require(Role.PROVIDER)
        async with runtime.pool.acquire() as connection, connection.transaction():
            course = await repository.course(connection, course_id)
            if course is None or (not staff and course.provider != principal.provider):
                raise HTTPException(404, {"reason": ReasonCode.UNKNOWN_COURSE})
            roster = await repository.roster(connection, course_id)
            await audit.record_reads(
                connection,
                actor=principal.subject,
                action="course-roster.read",
                participant_ids=[row["participant_id"] for row in roster["participants"]],
                purpose=purpose,
            )
        view: dict[str, Any] = jsonable({**vars(course), **roster})
        return view

    return app
