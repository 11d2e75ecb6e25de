"""Courses' handlers: provider commands (Kafka and HTTP alike) and participant knowledge.

What intake and coaching tell about participants (registration, the providers linked to
them, employment ban, placements, erasure) decides who may enrol them, enrolment into module
F2, and removes person-level rows.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, timedelta
from typing import ClassVar

import asyncpg

from courses import domain, links, repository
from courses.settings import FundingRate
from durchstarten.clock import Clock
from durchstarten.events import Event
from durchstarten.events.coaching import PlacementRecorded, ReferralAnswered
from durchstarten.events.courses import (
    CompleteParticipation,
    DropOut,
    Enrol,
    ParticipantEnrolled,
    RecordAttendance,
    RecordCertificate,
    RecordExamResult,
    ScheduleCourse,
)
from durchstarten.events.intake import (
    ConsentChanged,
    ParticipantErased,
    ParticipantRegistered,
    ProviderAssigned,
)
from durchstarten.events.topics import ServiceName
from durchstarten.events.values import ReferralAnswer
from durchstarten.messaging.batch import write_deferred
from durchstarten.messaging.command_service import CommandService
from durchstarten.messaging.commands import InboundCommand
from durchstarten.service import ServiceRuntime

SERVICE: ServiceName = "courses"
ACCEPTED_COMMANDS = frozenset(
    model.command_type
    for model in (
        ScheduleCourse,
        Enrol,
        RecordAttendance,
        RecordExamResult,
        RecordCertificate,
        CompleteParticipation,
        DropOut,
    )
)


def rate_on(rates: list[FundingRate], day: date) -> FundingRate:
    """The funding rate in force on `day` (the latest one starting on or before it)."""
    valid = [rate for rate in rates if rate.valid_from <= day]
    return (
        max(valid, key=lambda rate: rate.valid_from)
        if valid
        else min(rates, key=lambda r: r.valid_from)
    )


class CoursesHandlers(CommandService):
    """Command and event handling for courses."""

    service: ClassVar[ServiceName] = SERVICE
    accepted: ClassVar[frozenset[str]] = ACCEPTED_COMMANDS

    def __init__(
        self,
        runtime: ServiceRuntime,
        *,
        clock: Clock,
        rates: list[FundingRate],
        hold_for: timedelta,
    ) -> None:
        """Bind to the runtime; `rates` price the funding facts."""
        super().__init__(runtime, clock=clock, hold_for=hold_for)
        self._rates = rates

    async def read_ahead(
        self, connection: asyncpg.Connection, commands: Sequence[InboundCommand]
    ) -> None:
        """The batch's courses (locked), standings, and the attended UE and days it adds to."""
        named = [inbound.command for inbound in commands]
        courses = [
            course for c in named if isinstance(course := getattr(c, "course_id", None), uuid.UUID)
        ]
        await repository.read_ahead(
            connection,
            courses=courses,
            places=[
                (course, person)
                for c in named
                if isinstance(course := getattr(c, "course_id", None), uuid.UUID)
                and isinstance(person := getattr(c, "participant_id", None), uuid.UUID)
            ],
            attendance=[
                (c.course_id, c.participant_id, c.part, c.date)
                for c in named
                if isinstance(c, RecordAttendance)
            ],
        )

    async def decide_and_save(  # noqa: PLR0911  # one branch per command type
        self, connection: asyncpg.Connection, inbound: InboundCommand
    ) -> list[Event]:
        """Courses' rules for each command; the events to publish."""
        if not isinstance(inbound.command, RecordAttendance):
            # Only attendance is written at a batch's flush (`repository.read_ahead`): any
            # other statement may read it.
            await write_deferred(connection)
        provider = inbound.provider
        today = self.clock.today()
        match inbound.command:
            case ScheduleCourse() as command:
                exists = await repository.course(connection, command.course_id) is not None
                scheduled = domain.decide_schedule(command, provider=provider, exists=exists)
                await repository.insert_course(connection, scheduled)
                return [scheduled]
            case Enrol() as command:
                course, status = await self._place(
                    connection, command.course_id, command.participant_id
                )
                taken, waiting = await repository.counts(connection, command.course_id)
                decided = domain.decide_enrol(
                    command,
                    provider=provider,
                    course=course,
                    participant=await repository.participant(connection, command.participant_id),
                    linked_providers=await links.linked_providers(
                        connection, command.participant_id
                    ),
                    status=status,
                    places_taken=taken,
                    waiting=waiting,
                )
                state = "enrolled" if isinstance(decided, ParticipantEnrolled) else "waitlisted"
                await repository.request_place(
                    connection,
                    command.course_id,
                    command.participant_id,
                    state=state,
                    requested_on=command.requested_on,
                )
                return [decided]
            case RecordAttendance() as command:
                course, status = await self._place(
                    connection, command.course_id, command.participant_id
                )
                attendance = domain.decide_attendance(
                    command,
                    provider=provider,
                    course=course,
                    status=status,
                    attended_in_part=await repository.attended(
                        connection, command.course_id, command.participant_id, command.part
                    ),
                    today=today,
                )
                before, now = await repository.add_attendance(connection, attendance)
                assert course is not None  # noqa: S101  # decide_attendance checked it
                funding = domain.ue_funding(
                    course,
                    delivered_before=before,
                    delivered_now=now,
                    on=command.date,
                    ue_cents=rate_on(self._rates, command.date).ue_cents,
                )
                return [attendance, *([funding] if funding else [])]
            case RecordExamResult() as command:
                course, status = await self._place(
                    connection, command.course_id, command.participant_id
                )
                result = domain.decide_exam(
                    command,
                    provider=provider,
                    course=course,
                    status=status,
                    today=today,
                )
                await repository.add_exam(connection, result)
                assert course is not None  # noqa: S101  # decide_exam checked it
                fee = domain.exam_funding(
                    result, course, rate_on(self._rates, result.exam_date).exam_fee_cents
                )
                return [result, *([fee] if fee else [])]
            case RecordCertificate() as command:
                course, status = await self._place(
                    connection, command.course_id, command.participant_id
                )
                certificate = domain.decide_certificate(
                    command,
                    provider=provider,
                    course=course,
                    status=status,
                    today=today,
                )
                await repository.add_certificate(
                    connection,
                    command.course_id,
                    command.participant_id,
                    command.certificate.value,
                    command.issued_on,
                )
                return [certificate]
            case CompleteParticipation() as command:
                course, status = await self._place(
                    connection, command.course_id, command.participant_id
                )
                completed = domain.decide_completion(
                    command,
                    provider=provider,
                    course=course,
                    status=status,
                    today=today,
                )
                await repository.set_state(
                    connection,
                    command.course_id,
                    command.participant_id,
                    "completed",
                    command.completed_on,
                )
                return [completed]
            case DropOut() as command:
                return await self._drop_out(connection, command, provider, today)
            case _:  # parse_command admits only ACCEPTED_COMMANDS
                msg = f"no handler for {type(inbound.command).__name__}"
                raise TypeError(msg)

    async def _drop_out(
        self, connection: asyncpg.Connection, command: DropOut, provider: str, today: date
    ) -> list[Event]:
        course, status = await self._place(connection, command.course_id, command.participant_id)
        dropped, freed = domain.decide_drop_out(
            command,
            provider=provider,
            course=course,
            status=status,
            today=today,
        )
        await repository.set_state(
            connection,
            command.course_id,
            command.participant_id,
            "dropped-out",
            command.dropped_on,
            reason=command.reason.value,
        )
        events: list[Event] = [dropped]
        next_in_line = (
            await repository.first_waiting(connection, command.course_id) if freed else None
        )
        if course is not None and next_in_line is not None:
            await repository.set_state(
                connection, command.course_id, next_in_line, "enrolled", command.dropped_on
            )
            events.append(domain.promotion(course, next_in_line, command.dropped_on))
        return events

    async def _place(
        self, connection: asyncpg.Connection, course_id: uuid.UUID, participant_id: uuid.UUID
    ) -> tuple[domain.CourseView | None, str | None]:
        """The course (locked) and the participant's standing in it."""
        course = await repository.course(connection, course_id)
        return course, await repository.status(connection, course_id, participant_id)

    async def learn(self, connection: asyncpg.Connection, event: Event | None) -> None:
        """Participants, the providers that may enrol them, their placements, and erasure.

        A provider may enrol a person it registered, was assigned to after a sure
        duplicate, or accepted by referral (for a course type or a service, the referring
        provider answers, and it is linked already).
        """
        match event:
            case ParticipantRegistered():
                await repository.upsert_participant(
                    connection, event.participant_id, event.entry_date, event.employment_ban
                )
                await links.link_provider(connection, event.participant_id, event.provider)
            case ProviderAssigned():
                await links.link_provider(connection, event.participant_id, event.provider)
            case ConsentChanged():
                # Without consent to data sharing only the registering provider and those an
                # override still lets in may enrol the person.
                keep = event.keeps_only()
                if keep is not None:
                    await links.unlink_others(connection, event.participant_id, keep)
            case ReferralAnswered(answer=ReferralAnswer.ACCEPTED):
                await links.link_provider(connection, event.participant_id, event.answered_by)
            case PlacementRecorded():
                await repository.set_placement(
                    connection, event.participant_id, event.category.value
                )
            case ParticipantErased():
                await repository.erase(connection, event.participant_id)
            case _:
                pass
