"""Coaching's handlers: provider commands (Kafka and HTTP alike) and intake's events.

A command about a participant (or case) not known yet is held, in the same transaction that
records it as seen, and retried when intake's events bring new knowledge; when its hold
expires it is rejected with `unknown-participant`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from pydantic import ValidationError

from coaching import domain, repository
from durchstarten.clock import Clock
from durchstarten.events import CloudEvent, CommandAccepted, Event, new_event, read_event
from durchstarten.events.coaching import (
    AnswerReferral,
    CloseCase,
    MakeReferral,
    OpenCase,
    RecordFollowUp,
    RecordPlacement,
    RecordSession,
)
from durchstarten.events.intake import (
    ParticipantErased,
    ParticipantExited,
    ParticipantRegistered,
    ProviderAssigned,
)
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import COACHING_EVENTS, ServiceName, outbound
from durchstarten.logging import get_logger
from durchstarten.messaging.broker import with_retries
from durchstarten.messaging.commands import InboundCommand, acceptance, parse_command, rejection
from durchstarten.messaging.errors import PermanentError
from durchstarten.messaging.holding import Held, HeldCommandRetrier, hold
from durchstarten.messaging.inbox import first_time
from durchstarten.messaging.outbox import enqueue
from durchstarten.service import ServiceRuntime

log = get_logger(__name__)

SERVICE: ServiceName = "coaching"
SOURCE = "/services/coaching"
INBOX = "coaching.commands"
INTAKE_INBOX = "coaching.intake-events"
ACCEPTED_COMMANDS = frozenset(
    model.command_type
    for model in (
        OpenCase,
        RecordSession,
        MakeReferral,
        AnswerReferral,
        RecordPlacement,
        RecordFollowUp,
        CloseCase,
    )
)


@dataclass(frozen=True)
class Outcome:
    """What became of a command."""

    status: str  # accepted | rejected | held | duplicate
    violation: domain.RuleViolation | None = None


class CoachingHandlers:
    """Command and event handling for coaching."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        *,
        clock: Clock,
        sites: dict[str, list[str]],
        hold_for: timedelta,
    ) -> None:
        """Bind to the runtime; `hold_for` is how long an unknown reference may wait."""
        self._runtime = runtime
        self._clock = clock
        self._sites = sites
        self._hold_for = hold_for
        self._providers = frozenset(runtime.settings.providers)
        self.retrier = HeldCommandRetrier(lambda: runtime.pool, INBOX, self._retry_held)

    # --- commands ----------------------------------------------------------------------------

    async def execute_record(self, inbound: InboundCommand, record: Any) -> str:
        """Carry out a command from `inbound.<provider>.coaching` (the InboundEdge executor)."""
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
                outcome = await self._apply(connection, inbound)
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
                log.info("command held", waiting_for=missing.waiting_for)
                return Outcome("held")
        return outcome

    async def _apply(self, connection: asyncpg.Connection, inbound: InboundCommand) -> Outcome:
        """Decide and save; a rule violation becomes the provider's rejection."""
        try:
            events = await self._decide_and_save(connection, inbound)
        except domain.RuleViolation as violation:
            await self._reply_rejected(connection, inbound, violation)
            return Outcome("rejected", violation)
        for event in events:
            await self._publish(connection, event, inbound)
        await self._reply_accepted(connection, inbound, events)
        return Outcome("accepted")

    async def _decide_and_save(  # noqa: PLR0911, PLR0912  # one branch per command type
        self, connection: asyncpg.Connection, inbound: InboundCommand
    ) -> list[Event]:
        provider = inbound.provider
        today = self._clock.today()
        match inbound.command:
            case OpenCase() as command:
                if await repository.case(connection, command.case_id) is not None:
                    raise _duplicate_id("case_id")
                participant = await repository.participant(connection, command.participant_id)
                modules = await repository.open_modules(connection, command.participant_id)
                opened = domain.decide_open_case(
                    command,
                    provider=provider,
                    participant=participant,
                    sites=self._sites.get(provider, []),
                    open_modules=modules,
                    today=today,
                )
                await repository.insert_case(connection, opened)
                return [opened]
            case RecordSession() as command:
                case = await repository.case(connection, command.case_id)
                session = domain.decide_session(command, provider=provider, case=case, today=today)
                if not await repository.insert_session(connection, session):
                    raise _duplicate_id("session_id")
                return [session]
            case MakeReferral() as command:
                case = await repository.case(connection, command.case_id)
                referral = domain.decide_referral(
                    command,
                    provider=provider,
                    case=case,
                    known_providers=self._providers,
                    today=today,
                )
                if not await repository.insert_referral(connection, referral):
                    raise _duplicate_id("referral_id")
                return [referral]
            case AnswerReferral() as command:
                stored = await repository.referral(connection, command.referral_id)
                answered = domain.decide_answer(
                    command, provider=provider, referral=stored, today=today
                )
                await repository.answer_referral(connection, answered)
                assert stored is not None  # noqa: S101  # decide_answer raised otherwise
                receiver = domain.grants_access(answered, stored)
                if receiver is not None:
                    await repository.grant_access(connection, stored.participant_id, receiver)
                return [answered]
            case RecordPlacement() as command:
                case = await repository.case(connection, command.case_id)
                placement = domain.decide_placement(
                    command, provider=provider, case=case, today=today
                )
                if not await repository.insert_placement(connection, placement):
                    raise _duplicate_id("placement_id")
                return [placement]
            case RecordFollowUp() as command:
                case = await repository.case(connection, command.case_id)
                participant = (
                    await repository.participant(connection, case.participant_id) if case else None
                )
                follow_up = domain.decide_follow_up(
                    command, provider=provider, case=case, participant=participant, today=today
                )
                await repository.insert_follow_up(connection, follow_up)
                return [follow_up]
            case CloseCase() as command:
                case = await repository.case(connection, command.case_id)
                closed = domain.decide_close(command, provider=provider, case=case, today=today)
                await repository.close_case(connection, closed)
                return [closed]
            case _:  # parse_command admits only ACCEPTED_COMMANDS
                msg = f"no handler for {type(inbound.command).__name__}"
                raise TypeError(msg)

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
            return True  # cannot happen for a command that was parsed when held
        try:
            await self._apply(connection, inbound)
        except domain.NotKnownYet as missing:
            if self._clock.now() < held.hold_until:
                return False
            what = missing.waiting_for.split(":", 1)[0]
            reason = ReasonCode.UNKNOWN_CASE if what == "case" else ReasonCode.UNKNOWN_PARTICIPANT
            await self._reply_rejected(
                connection,
                inbound,
                domain.RuleViolation(
                    reason,
                    f"{what}_id",
                    f"No {what} with this id became known in time.",
                    "Die Kennung wurde nicht rechtzeitig bekannt.",
                ),
                source=held.source,
            )
        return True

    # --- intake's events -----------------------------------------------------------------------

    async def on_intake_record(self, record: Any) -> None:
        """Learn of participants from `intake.events` (idempotent by event id)."""
        try:
            envelope = CloudEvent.from_json(record.value or b"")
            event = read_event(envelope)
        except ValidationError:
            await self._runtime.dead_letters.park(
                record, error_class="invalid-event", error_message="not a valid intake event"
            )
            return

        async def work() -> None:
            async with self._runtime.pool.acquire() as connection, connection.transaction():
                if not await first_time(connection, INTAKE_INBOX, envelope.id):
                    return
                await self._learn(connection, event)

        await with_retries(work, what=f"intake event {record.topic}@{record.offset}")
        self.retrier.wake()

    async def _learn(self, connection: asyncpg.Connection, event: Event | None) -> None:
        match event:
            case ParticipantRegistered():
                await repository.upsert_participant(
                    connection, event.participant_id, event.provider, event.entry_date
                )
            case ProviderAssigned():
                await repository.grant_access(connection, event.participant_id, event.provider)
            case ParticipantExited():
                await repository.record_exit(connection, event.participant_id, event.exit_date)
            case ParticipantErased():
                await repository.erase(connection, event.participant_id)
            case _:
                pass  # other intake events change nothing coaching keeps

    # --- replies and events --------------------------------------------------------------------

    async def _publish(
        self, connection: asyncpg.Connection, event: Event, inbound: InboundCommand
    ) -> None:
        participant_id = str(getattr(event, "participant_id", "")) or None
        envelope = new_event(
            source=SOURCE,
            type_=event.event_type,
            data=event,
            subject=participant_id,
            correlationid=inbound.envelope.correlationid or inbound.envelope.id,
            causationid=inbound.envelope.id,
        )
        await enqueue(connection, COACHING_EVENTS, envelope, key=participant_id)

    async def _reply_accepted(
        self, connection: asyncpg.Connection, inbound: InboundCommand, events: list[Event]
    ) -> None:
        if inbound.provider not in self._providers:
            return
        participant: uuid.UUID | None = (
            getattr(events[0], "participant_id", None) if events else None
        )
        reply = CommandAccepted(
            command_id=inbound.envelope.id,
            command_type=inbound.envelope.type,
            participant_id=participant,
        )
        await enqueue(
            connection,
            outbound(inbound.provider, SERVICE),
            acceptance(service=SERVICE, inbound=inbound, reply=reply),
            key=str(participant) if participant else None,
        )

    async def _reply_rejected(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        violation: domain.RuleViolation,
        *,
        source: dict[str, Any] | None = None,
    ) -> None:
        if inbound.provider not in self._providers:
            return
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


def _duplicate_id(field: str) -> domain.RuleViolation:
    return domain.RuleViolation(
        ReasonCode.DUPLICATE_ID,
        field,
        "This id is in use already; choose a new UUID.",
        "Diese Kennung ist schon vergeben; wählen Sie eine neue UUID.",
    )
