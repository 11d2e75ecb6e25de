"""Courses' handlers: provider commands (Kafka and HTTP alike) and participant knowledge.

What intake and coaching tell about participants (registration, employment ban, placements,
erasure) decides enrolment into module F2 and removes person-level rows.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import asyncpg
from pydantic import ValidationError

from courses import domain, repository
from courses.settings import FundingRate
from durchstarten.clock import Clock
from durchstarten.events import CloudEvent, CommandAccepted, Event, new_event, read_event
from durchstarten.events.coaching import PlacementRecorded
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
from durchstarten.events.intake import ParticipantErased, ParticipantRegistered
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import COURSES_EVENTS, ServiceName, outbound
from durchstarten.logging import get_logger
from durchstarten.messaging.broker import with_retries
from durchstarten.messaging.commands import InboundCommand, acceptance, parse_command, rejection
from durchstarten.messaging.errors import PermanentError
from durchstarten.messaging.holding import Held, HeldCommandRetrier, hold
from durchstarten.messaging.inbox import first_time
from durchstarten.messaging.outbox import enqueue
from durchstarten.service import ServiceRuntime

log = get_logger(__name__)

SERVICE: ServiceName = "courses"
SOURCE = "/services/courses"
INBOX = "courses.commands"
EVENTS_INBOX = "courses.participant-events"
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


@dataclass(frozen=True)
class Outcome:
    """What became of a command."""

    status: str  # accepted | rejected | held | duplicate
    violation: domain.RuleViolation | None = None


def rate_on(rates: list[FundingRate], day: date) -> FundingRate:
    """The funding rate in force on `day` (the latest one starting on or before it)."""
    valid = [rate for rate in rates if rate.valid_from <= day]
    return (
        max(valid, key=lambda rate: rate.valid_from)
        if valid
        else min(rates, key=lambda r: r.valid_from)
    )


class CoursesHandlers:
    """Command and event handling for courses."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        *,
        clock: Clock,
        rates: list[FundingRate],
        hold_for: timedelta,
    ) -> None:
        """Bind to the runtime; `rates` price the funding facts."""
        self._runtime = runtime
        self._clock = clock
        self._rates = rates
        self._hold_for = hold_for
        self._providers = frozenset(runtime.settings.providers)
        self.retrier = HeldCommandRetrier(lambda: runtime.pool, INBOX, self._retry_held)

    async def execute_record(self, inbound: InboundCommand, record: Any) -> str:
        """Carry out a command from `inbound.<provider>.courses` (the InboundEdge executor)."""
        source = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        return (await self.execute(inbound, source=source)).status

    async def execute(
        self, inbound: InboundCommand, *, source: dict[str, Any] | None = None
    ) -> Outcome:
        """Carry out one command in one transaction: held, accepted or rejected."""
        async with self._runtime.pool.acquire() as connection, connection.transaction():
            if not await first_time(connection, INBOX, inbound.dedupe_key):
                return Outcome("duplicate")
            try:
                return await self._apply(connection, inbound)
            except domain.NotKnownYet as missing:
                await hold(
                    connection,
                    consumer=INBOX,
                    provider=inbound.provider,
                    dedupe_key=inbound.dedupe_key,
                    actor={"provider": inbound.provider},
                    envelope=inbound.envelope.model_dump(mode="json", exclude_none=True),
                    source=source,
                    waiting_for=missing.waiting_for,
                    hold_until=self._clock.now() + self._hold_for,
                )
                return Outcome("held")

    async def _apply(self, connection: asyncpg.Connection, inbound: InboundCommand) -> Outcome:
        try:
            events = await self._decide_and_save(connection, inbound)
        except domain.RuleViolation as violation:
            await self._reply(connection, inbound, violation=violation)
            return Outcome("rejected", violation)
        for event in events:
            await self._publish(connection, event, inbound)
        await self._reply(
            connection, inbound, participant=getattr(events[0], "participant_id", None)
        )
        return Outcome("accepted")

    async def _decide_and_save(  # noqa: PLR0911  # one branch per command type
        self, connection: asyncpg.Connection, inbound: InboundCommand
    ) -> list[Event]:
        provider = inbound.provider
        today = self._clock.today()
        match inbound.command:
            case ScheduleCourse() as command:
                exists = await repository.course(connection, command.course_id) is not None
                scheduled = domain.decide_schedule(command, provider=provider, exists=exists)
                await repository.insert_course(connection, scheduled)
                return [scheduled]
            case Enrol() as command:
                course = await repository.course(connection, command.course_id)
                taken, waiting = await repository.counts(connection, command.course_id)
                decided = domain.decide_enrol(
                    command,
                    provider=provider,
                    course=course,
                    participant=await repository.participant(connection, command.participant_id),
                    status=await repository.status(
                        connection, command.course_id, command.participant_id
                    ),
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
                course = await repository.course(connection, command.course_id)
                attendance = domain.decide_attendance(
                    command,
                    provider=provider,
                    course=course,
                    status=await repository.status(
                        connection, command.course_id, command.participant_id
                    ),
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
                course = await repository.course(connection, command.course_id)
                result = domain.decide_exam(
                    command,
                    provider=provider,
                    course=course,
                    status=await repository.status(
                        connection, command.course_id, command.participant_id
                    ),
                    today=today,
                )
                await repository.add_exam(connection, result)
                assert course is not None  # noqa: S101  # decide_exam checked it
                fee = domain.exam_funding(
                    result, course, rate_on(self._rates, result.exam_date).exam_fee_cents
                )
                return [result, *([fee] if fee else [])]
            case RecordCertificate() as command:
                course = await repository.course(connection, command.course_id)
                certificate = domain.decide_certificate(
                    command,
                    provider=provider,
                    course=course,
                    status=await repository.status(
                        connection, command.course_id, command.participant_id
                    ),
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
                course = await repository.course(connection, command.course_id)
                completed = domain.decide_completion(
                    command,
                    provider=provider,
                    course=course,
                    status=await repository.status(
                        connection, command.course_id, command.participant_id
                    ),
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
        course = await repository.course(connection, command.course_id)
        dropped, freed = domain.decide_drop_out(
            command,
            provider=provider,
            course=course,
            status=await repository.status(connection, command.course_id, command.participant_id),
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

    async def _retry_held(self, connection: asyncpg.Connection, held: Held) -> bool:
        """Try a held command again; reject it for good once its hold has expired."""
        try:
            envelope = CloudEvent.model_validate(held.envelope)
            inbound = parse_command(
                envelope.to_json(), provider=held.provider, accepted=ACCEPTED_COMMANDS
            )
        except (ValidationError, PermanentError):
            # It parsed when it was held; only a contract change in between gets here.
            log.error("held command no longer parses; dropped", held_id=held.id)
            return True
        try:
            await self._apply(connection, inbound)
        except domain.NotKnownYet:
            if self._clock.now() < held.hold_until:
                return False
            violation = domain.RuleViolation(
                ReasonCode.UNKNOWN_PARTICIPANT,
                "participant_id",
                "No participant with this id became known in time.",
                "Eine Person mit dieser Kennung wurde nicht rechtzeitig bekannt.",
            )
            await self._reply(connection, inbound, violation=violation, source=held.source)
        return True

    async def on_participant_record(self, record: Any) -> None:
        """Learn from `intake.events` and `coaching.events` (idempotent by event id)."""
        try:
            envelope = CloudEvent.from_json(record.value or b"")
            event = read_event(envelope)
        except ValidationError:
            await self._runtime.dead_letters.park(
                record, error_class="invalid-event", error_message="not a valid event"
            )
            return

        async def work() -> None:
            async with self._runtime.pool.acquire() as connection, connection.transaction():
                if not await first_time(connection, EVENTS_INBOX, envelope.id):
                    return
                match event:
                    case ParticipantRegistered():
                        await repository.upsert_participant(
                            connection, event.participant_id, event.entry_date, event.employment_ban
                        )
                    case PlacementRecorded():
                        await repository.set_placement(
                            connection, event.participant_id, event.category.value
                        )
                    case ParticipantErased():
                        await repository.erase(connection, event.participant_id)
                    case _:
                        pass

        await with_retries(work, what=f"participant event {record.topic}@{record.offset}")
        self.retrier.wake()

    async def _publish(
        self, connection: asyncpg.Connection, event: Event, inbound: InboundCommand
    ) -> None:
        subject = getattr(event, "participant_id", None)
        key = str(subject) if subject else str(getattr(event, "course_id", "")) or None
        envelope = new_event(
            source=SOURCE,
            type_=event.event_type,
            data=event,
            subject=str(subject) if subject else None,
            correlationid=inbound.envelope.correlationid or inbound.envelope.id,
            causationid=inbound.envelope.id,
        )
        await enqueue(connection, COURSES_EVENTS, envelope, key=key)

    async def _reply(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        *,
        participant: uuid.UUID | None = None,
        violation: domain.RuleViolation | None = None,
        source: dict[str, Any] | None = None,
    ) -> None:
        if inbound.provider not in self._providers:
            return
        if violation is None:
            reply = acceptance(
                service=SERVICE,
                inbound=inbound,
                reply=CommandAccepted(
                    command_id=inbound.envelope.id,
                    command_type=inbound.envelope.type,
                    participant_id=participant,
                ),
            )
        else:
            error = PermanentError(
                violation.reason,
                field=f"data.{violation.field}" if violation.field else None,
                message_en=violation.message_en,
                message_de=violation.message_de,
            )
            reply = rejection(
                service=SERVICE,
                error=error,
                command_id=inbound.envelope.id,
                command_type=inbound.envelope.type,
                source=(source["topic"], source["partition"], source["offset"]) if source else None,
            )
        await enqueue(connection, outbound(inbound.provider, SERVICE), reply, key=None)
