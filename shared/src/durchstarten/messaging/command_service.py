"""The command side shared by coaching and courses: execute, hold, retry, publish, reply.

A service subclasses `CommandService` and implements `decide_and_save`; everything around it
(deduplication, holding commands about participants not known yet, the outbox, the replies
on the provider's outbound topic) is the same for every such service.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar

import asyncpg
from pydantic import ValidationError

from durchstarten.clock import Clock
from durchstarten.db.pool import connection_from
from durchstarten.domain import NotKnownYet, RuleViolation
from durchstarten.events import CloudEvent, CommandAccepted, Event, new_event, read_event
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import ServiceName, domain_events, outbound
from durchstarten.logging import get_logger
from durchstarten.messaging.broker import with_retries
from durchstarten.messaging.commands import InboundCommand, acceptance, parse_command, rejection
from durchstarten.messaging.errors import PermanentError
from durchstarten.messaging.holding import Held, HeldCommandRetrier, hold
from durchstarten.messaging.inbox import first_time
from durchstarten.messaging.outbox import enqueue
from durchstarten.service import ServiceRuntime

log = get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What became of a command."""

    status: str  # accepted | rejected | held | duplicate
    violation: RuleViolation | None = None


class CommandService:
    """Base of a write service's command handling; subclasses decide and save."""

    service: ClassVar[ServiceName]
    accepted: ClassVar[frozenset[str]]

    def __init__(self, runtime: ServiceRuntime, *, clock: Clock, hold_for: timedelta) -> None:
        """Bind to the runtime; `hold_for` is how long an unknown reference may wait."""
        self.runtime = runtime
        self.clock = clock
        self._hold_for = hold_for
        self.providers = frozenset(runtime.settings.providers)
        self.inbox = f"{self.service}.commands"
        self.retrier = HeldCommandRetrier(lambda: runtime.pool, self.inbox, self._retry_held)

    async def decide_and_save(
        self, connection: asyncpg.Connection, inbound: InboundCommand
    ) -> list[Event]:
        """Apply the service's rules and store the result; raise RuleViolation or NotKnownYet."""
        raise NotImplementedError

    async def execute_record(self, inbound: InboundCommand, record: Any) -> str:
        """Carry out a command from an inbound topic (the InboundEdge executor)."""
        source = {"topic": record.topic, "partition": record.partition, "offset": record.offset}
        return (await self.execute(inbound, source=source)).status

    async def execute(
        self, inbound: InboundCommand, *, source: dict[str, Any] | None = None
    ) -> Outcome:
        """Carry out one command in one transaction: held, accepted or rejected."""
        async with connection_from(self.runtime.pool) as connection, connection.transaction():
            if not await first_time(connection, self.inbox, inbound.dedupe_key):
                return Outcome("duplicate")
            try:
                return await self._apply(connection, inbound)
            except NotKnownYet as missing:
                await hold(
                    connection,
                    consumer=self.inbox,
                    provider=inbound.provider,
                    dedupe_key=inbound.dedupe_key,
                    actor={"provider": inbound.provider},
                    envelope=inbound.envelope.model_dump(mode="json", exclude_none=True),
                    source=source,
                    waiting_for=missing.waiting_for,
                    hold_until=self.clock.now() + self._hold_for,
                )
                log.info("command held", waiting_for=missing.waiting_for)
                return Outcome("held")

    async def _apply(self, connection: asyncpg.Connection, inbound: InboundCommand) -> Outcome:
        """Decide and save; a rule violation becomes the provider's rejection."""
        try:
            events = await self.decide_and_save(connection, inbound)
        except RuleViolation as violation:
            await self.reply(connection, inbound, violation=violation)
            return Outcome("rejected", violation)
        for event in events:
            await self.publish(connection, event, inbound)
        participant = getattr(events[0], "participant_id", None) if events else None
        await self.reply(connection, inbound, participant=participant)
        return Outcome("accepted")

    async def _retry_held(self, connection: asyncpg.Connection, held: Held) -> bool:
        """Try a held command again; reject it for good once its hold has expired."""
        try:
            envelope = CloudEvent.model_validate(held.envelope)
            inbound = parse_command(
                envelope.to_json(), provider=held.provider, accepted=self.accepted
            )
        except (ValidationError, PermanentError):
            # It parsed when it was held; only a contract change in between gets here.
            log.error("held command no longer parses; dropped", held_id=held.id)
            return True
        try:
            await self._apply(connection, inbound)
        except NotKnownYet as missing:
            if self.clock.now() < held.hold_until:
                return False
            what = missing.waiting_for.split(":", 1)[0]
            reason = ReasonCode.UNKNOWN_CASE if what == "case" else ReasonCode.UNKNOWN_PARTICIPANT
            violation = RuleViolation(
                reason,
                f"{what}_id",
                f"No {what} with this id became known in time.",
                "Die Kennung wurde nicht rechtzeitig bekannt.",
            )
            await self.reply(connection, inbound, violation=violation, source=held.source)
        return True

    async def learn_from(self, record: Any) -> None:
        """Take in another service's event (idempotent by event id), then retry held commands.

        An event that cannot be read is parked on the dead-letter topic; its partition moves on.
        """
        try:
            envelope = CloudEvent.from_json(record.value or b"")
            event = read_event(envelope)
        except ValidationError:
            await self.runtime.dead_letters.park(
                record, error_class="invalid-event", error_message="not a valid event"
            )
            return

        async def work() -> None:
            async with connection_from(self.runtime.pool) as connection, connection.transaction():
                if not await first_time(connection, f"{self.service}.learnt-events", envelope.id):
                    return
                await self.learn(connection, event)

        await with_retries(work, what=f"event {record.topic}@{record.offset}")
        self.retrier.wake()

    async def learn(self, connection: asyncpg.Connection, event: Event | None) -> None:
        """Keep what the service needs of another service's event (None: an unknown type)."""

    async def publish(
        self, connection: asyncpg.Connection, event: Event, inbound: InboundCommand
    ) -> None:
        """Announce a domain event (keyed by participant, else by its first id)."""
        subject = getattr(event, "participant_id", None)
        fallback = getattr(event, "course_id", None) or getattr(event, "case_id", None)
        envelope = new_event(
            source=f"/services/{self.service}",
            type_=event.event_type,
            data=event,
            subject=str(subject) if subject else None,
            correlationid=inbound.envelope.correlationid or inbound.envelope.id,
            causationid=inbound.envelope.id,
        )
        key = str(subject or fallback) if (subject or fallback) else None
        await enqueue(connection, domain_events(self.service), envelope, key=key)

    async def reply(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        *,
        participant: uuid.UUID | None = None,
        violation: RuleViolation | None = None,
        source: dict[str, Any] | None = None,
    ) -> None:
        """Answer on the provider's outbound topic: accepted, or rejected with the reason."""
        if inbound.provider not in self.providers:
            return
        if violation is None:
            reply = acceptance(
                service=self.service,
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
                service=self.service,
                error=error,
                command_id=inbound.envelope.id,
                command_type=inbound.envelope.type,
                source=(source["topic"], source["partition"], source["offset"]) if source else None,
            )
        await enqueue(connection, outbound(inbound.provider, self.service), reply, key=None)
