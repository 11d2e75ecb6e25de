"""Intake's handlers: parse, load, decide, save and publish (through the outbox).

The same `execute` serves the Kafka inbound topics and the HTTP API, so both channels
behave identically, including deduplication and the replies on the outbound topic.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg

from durchstarten.events import CommandAccepted, RegisterParticipant, new_event
from durchstarten.events.intake import RegisterParticipantV1
from durchstarten.events.topics import (
    INTAKE_EVENTS,
    ServiceName,
    outbound,
    provider_of_inbound,
)
from durchstarten.logging import get_logger
from durchstarten.messaging.broker import process_or_park
from durchstarten.messaging.commands import (
    InboundCommand,
    acceptance,
    command_id_of,
    parse_command,
    rejection,
)
from durchstarten.messaging.errors import PermanentError
from durchstarten.messaging.inbox import first_time
from durchstarten.messaging.outbox import enqueue
from durchstarten.service import ServiceRuntime
from intake import repository
from intake.domain import RuleViolation, decide_registration

log = get_logger(__name__)

SERVICE: ServiceName = "intake"
SOURCE = "/services/intake"
ACCEPTED_COMMANDS = frozenset(
    {RegisterParticipant.command_type, RegisterParticipantV1.command_type}
)
INBOX = "intake.commands"


@dataclass(frozen=True)
class Outcome:
    """What became of a command: accepted (with pseudonym), rejected, or a repeat."""

    accepted: bool
    participant_id: uuid.UUID | None = None
    violation: RuleViolation | None = None
    duplicate: bool = False


class IntakeHandlers:
    """Command handling for intake; dependencies come from the runtime."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        """Bind to the runtime's pool, dead letters and metrics."""
        self._runtime = runtime

    async def on_inbound_record(self, record: Any) -> None:
        """Handle one record from `inbound.<provider>.intake`."""
        provider = provider_of_inbound(record.topic)

        async def work() -> None:
            inbound = parse_command(
                record.value or b"", provider=provider, accepted=ACCEPTED_COMMANDS
            )
            outcome = await self.execute(inbound)
            self._runtime.metrics.messages.labels(
                record.topic, "duplicate" if outcome.duplicate else "processed"
            ).inc()

        async def reject(error: PermanentError) -> None:
            command_id, command_type = command_id_of(record.value or b"")
            reply = rejection(
                service=SERVICE,
                error=error,
                command_id=command_id,
                command_type=command_type,
                source=(record.topic, record.partition, record.offset),
            )
            async with self._runtime.pool.acquire() as connection, connection.transaction():
                await enqueue(connection, outbound(provider, SERVICE), reply, key=None)
            self._runtime.metrics.messages.labels(record.topic, "dead-lettered").inc()

        await process_or_park(record, work, self._runtime.dead_letters, on_permanent=reject)

    async def execute(self, inbound: InboundCommand) -> Outcome:
        """Carry out one parsed command in one transaction, replies included."""
        async with self._runtime.pool.acquire() as connection, connection.transaction():
            if not await first_time(connection, INBOX, inbound.dedupe_key):
                existing = await repository.participant_by_command(
                    connection, provider=inbound.provider, command_id=inbound.envelope.id
                )
                log.info("duplicate command skipped", command_id=inbound.envelope.id)
                return Outcome(
                    accepted=existing is not None, participant_id=existing, duplicate=True
                )
            match inbound.command:
                case RegisterParticipant() as command:
                    return await self._register(connection, inbound, command)
                case _:  # parse_command admits only ACCEPTED_COMMANDS
                    msg = f"no handler for {type(inbound.command).__name__}"
                    raise TypeError(msg)

    async def _register(
        self, connection: asyncpg.Connection, inbound: InboundCommand, command: RegisterParticipant
    ) -> Outcome:
        participant_id = uuid.uuid4()
        reply_topic = outbound(inbound.provider, SERVICE)
        try:
            event = decide_registration(
                command, provider=inbound.provider, participant_id=participant_id
            )
        except RuleViolation as violation:
            error = PermanentError(
                violation.reason,
                field=violation.field,
                message_en=violation.message_en,
                message_de=violation.message_de,
            )
            reply = rejection(
                service=SERVICE,
                error=error,
                command_id=inbound.envelope.id,
                command_type=inbound.envelope.type,
            )
            await enqueue(connection, reply_topic, reply, key=None)
            return Outcome(accepted=False, violation=violation)
        await repository.insert_participant(
            connection,
            participant_id=participant_id,
            provider=inbound.provider,
            command_id=inbound.envelope.id,
            command=command,
        )
        key = str(participant_id)
        announced = new_event(
            source=SOURCE,
            type_=event.event_type,
            data=event,
            subject=key,
            correlationid=inbound.envelope.correlationid or inbound.envelope.id,
            causationid=inbound.envelope.id,
        )
        await enqueue(connection, INTAKE_EVENTS, announced, key=key)
        accepted = CommandAccepted(
            command_id=inbound.envelope.id,
            command_type=inbound.envelope.type,
            participant_id=participant_id,
            provider_reference=command.provider_reference,
        )
        await enqueue(
            connection,
            reply_topic,
            acceptance(service=SERVICE, inbound=inbound, reply=accepted),
            key=key,
        )
        log.info("participant registered", participant_id=key, command_id=inbound.envelope.id)
        return Outcome(accepted=True, participant_id=participant_id)
