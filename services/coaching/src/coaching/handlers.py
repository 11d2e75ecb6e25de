"""Coaching's handlers: provider commands (Kafka and HTTP alike) and intake's events.

A command about a participant (or case) not known yet is held and retried when intake's
events bring new knowledge (see `CommandService`); when its hold expires it is rejected
with `unknown-participant`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import ClassVar

import asyncpg

from coaching import domain, repository
from durchstarten.clock import Clock
from durchstarten.events import Event
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
    ConsentChanged,
    ParticipantErased,
    ParticipantExited,
    ParticipantRegistered,
    ProviderAssigned,
)
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import ServiceName
from durchstarten.messaging.batch import write_deferred
from durchstarten.messaging.command_service import CommandService
from durchstarten.messaging.commands import InboundCommand
from durchstarten.service import ServiceRuntime

SERVICE: ServiceName = "coaching"
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


class CoachingHandlers(CommandService):
    """Command and event handling for coaching."""

    service: ClassVar[ServiceName] = SERVICE
    accepted: ClassVar[frozenset[str]] = ACCEPTED_COMMANDS

    def __init__(
        self,
        runtime: ServiceRuntime,
        *,
        clock: Clock,
        sites: dict[str, list[str]],
        hold_for: timedelta,
    ) -> None:
        """Bind to the runtime; `sites` are each provider's places of work."""
        super().__init__(runtime, clock=clock, hold_for=hold_for)
        self._sites = sites

    async def read_ahead(
        self, connection: asyncpg.Connection, commands: Sequence[InboundCommand]
    ) -> None:
        """The batch's cases (locked), the participants it opens cases for, its session ids."""
        named = [inbound.command for inbound in commands]
        await repository.read_ahead(
            connection,
            case_ids=[
                case_id
                for command in named
                if isinstance(case_id := getattr(command, "case_id", None), uuid.UUID)
            ],
            participant_ids=[c.participant_id for c in named if isinstance(c, OpenCase)],
            session_ids=[c.session_id for c in named if isinstance(c, RecordSession)],
        )

    async def decide_and_save(  # noqa: PLR0911, PLR0912  # one branch per command type
        self, connection: asyncpg.Connection, inbound: InboundCommand
    ) -> list[Event]:
        """Coaching's rules for each command; the events to publish."""
        if not isinstance(inbound.command, OpenCase | RecordSession):
            # Only these two defer their rows in a batch (`repository.read_ahead`): any
            # other statement may touch a case or session not written yet.
            await write_deferred(connection)
        provider = inbound.provider
        today = self.clock.today()
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
                target = command.target.provider
                referral = domain.decide_referral(
                    command,
                    provider=provider,
                    case=case,
                    known_providers=self.providers,
                    today=today,
                    shares=case is None
                    or target is None
                    # On the day it takes effect (today), not a date the sender may choose.
                    or await repository.may_share(connection, case.participant_id, target, today),
                )
                if not await repository.insert_referral(connection, referral):
                    raise _duplicate_id("referral_id")
                return [referral]
            case AnswerReferral() as command:
                stored = await repository.referral(connection, command.referral_id)
                answered = domain.decide_answer(
                    command,
                    provider=provider,
                    referral=stored,
                    today=today,
                    shares=stored is None
                    or stored.target_provider is None
                    or await repository.may_share(
                        connection, stored.participant_id, stored.target_provider, today
                    ),
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

    # --- intake's events -----------------------------------------------------------------------

    async def learn(self, connection: asyncpg.Connection, event: Event | None) -> None:
        """Participants, their access, exits and erasure, from intake."""
        match event:
            case ParticipantRegistered():
                await repository.upsert_participant(
                    connection, event.participant_id, event.provider, event.entry_date
                )
                await repository.set_consent(connection, event.participant_id, event.consent)
            case ConsentChanged():
                await repository.set_consent(connection, event.participant_id, event.consent)
                lasting = [(o.provider, o.until) for o in event.overrides]
                await repository.replace_overrides(connection, event.participant_id, lasting)
                keep = event.keeps_only()
                if keep is not None:
                    await repository.revoke_unshared(connection, event.participant_id, keep)
            case ProviderAssigned():
                await repository.grant_access(connection, event.participant_id, event.provider)
            case ParticipantExited():
                await repository.record_exit(connection, event.participant_id, event.exit_date)
            case ParticipantErased():
                await repository.erase(connection, event.participant_id)
            case _:
                pass  # other intake events change nothing coaching keeps


def _duplicate_id(field: str) -> domain.RuleViolation:
    return domain.RuleViolation(
        ReasonCode.DUPLICATE_ID,
        field,
        "This id is in use already; choose a new UUID.",
        "Diese Kennung ist schon vergeben; wählen Sie eine neue UUID.",
    )
