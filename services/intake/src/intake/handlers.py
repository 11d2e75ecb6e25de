"""Intake's handlers: parse, authorise, load, decide, save and publish (through the outbox).

Intake runs on the shared command side (`CommandService`), like coaching and courses: the
same `execute` serves the Kafka inbound topics and the HTTP API, so both channels behave
identically (deduplication, replies on the provider's outbound topic). The rules live in
`intake.domain`; here they are fed with what the database and the vault hold, and what
they decide is stored and audited.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from datetime import date
from typing import ClassVar

import asyncpg

from durchstarten import audit
from durchstarten.clock import Clock
from durchstarten.events import Event, RegisterParticipant
from durchstarten.events.catalogue import commands_of
from durchstarten.events.courses import ExamResultRecorded
from durchstarten.events.intake import (
    ApproveEligibilityException,
    ConsentChanged,
    CorrectIdentity,
    DenyEligibilityException,
    OverrideConsent,
    ParticipantMoved,
    ProviderAssigned,
    RecordConsent,
    RecordProgrammeExit,
    RecordResidenceStatusChange,
    RequestErasure,
    ResolveDuplicate,
    WithdrawConsent,
)
from durchstarten.events.parts import Consent
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.topics import ServiceName, outbound
from durchstarten.logging import get_logger
from durchstarten.messaging.batch import deferring, write_deferred
from durchstarten.messaging.command_service import CommandService, Decision
from durchstarten.messaging.commands import Actor, InboundCommand, rejection
from durchstarten.messaging.outbox import enqueue
from durchstarten.service import ServiceRuntime
from intake import domain, identities, repository
from intake.eligibility import Programme, choose_programme
from intake.identities import KeyRing
from intake.matching import Identity, best_match

log = get_logger(__name__)

SERVICE: ServiceName = "intake"
ACCEPTED_COMMANDS = frozenset(entry.type for entry in commands_of(SERVICE))
NOT_FOUND = frozenset({ReasonCode.UNKNOWN_PARTICIPANT})
"""Rejections the HTTP API answers with 404."""
SCHEDULE_ACTOR = "intake.deletion-schedule"
"""Who erased, in the audit trail, when the deletion plan's period ran out."""


class IntakeHandlers(CommandService):
    """Command handling for intake; dependencies come from the runtime and the wiring."""

    service: ClassVar[ServiceName] = SERVICE
    accepted: ClassVar[frozenset[str]] = ACCEPTED_COMMANDS
    learns: ClassVar[frozenset[str] | None] = frozenset({ExamResultRecorded.event_type})

    def __init__(
        self,
        runtime: ServiceRuntime,
        *,
        clock: Clock,
        ring: KeyRing,
        programmes: dict[str, Programme],
        active_programmes: list[str],
    ) -> None:
        """Bind to the runtime, the vault and the programmes this deployment runs.

        Intake refers to nothing another service announces, so it never holds a command.
        """
        super().__init__(runtime, clock=clock)
        self.ring = ring
        self._programmes = programmes
        self._active = active_programmes
        self._counties = runtime.settings.counties()

    async def read_ahead(
        self, connection: asyncpg.Connection, commands: Sequence[InboundCommand]
    ) -> None:
        """Lock, look up and open the blind index's candidates of a batch's registrations."""
        await identities.read_ahead(connection, self.ring, commands)

    async def repeated(
        self, connection: asyncpg.Connection, inbound: InboundCommand
    ) -> Decision | None:
        """A registration sent again is answered with the participant it gave."""
        result = await repository.registration_result(
            connection, provider=inbound.provider, command_id=inbound.envelope.id
        )
        return Decision(participant=result[0], status=result[1]) if result else None

    async def decide_and_save(  # noqa: PLR0911, PLR0912  # one branch and return per command type
        self, connection: asyncpg.Connection, inbound: InboundCommand
    ) -> Decision | tuple[Event, ...]:
        """Intake's rules for each command; the events to publish and the reply's details."""
        domain.authorise(inbound.command, inbound.actor)
        if not isinstance(inbound.command, RegisterParticipant):
            # Only registrations defer writes in a batch (a new person's rows, keys, audit
            # entries) and read the index ahead: any other command may read those rows or
            # change who is a candidate, so they are written first and the index read again.
            await write_deferred(connection)
            identities.forget_read_ahead(connection)
        match inbound.command:
            case RegisterParticipant() as command:
                return await self._register(connection, inbound, command)
            case RecordResidenceStatusChange() as command:
                state = await self._state_for(
                    connection, command.participant_id, inbound.actor, active=True
                )
                event = domain.decide_status_change(
                    command, self._programmes.get(state.programme or "")
                )
                await repository.add_status_history(
                    connection,
                    command.participant_id,
                    command.status,
                    command.legal_basis,
                    command.since,
                )
                return (event,)
            case RecordProgrammeExit() as command:
                state = await self._state_for(
                    connection, command.participant_id, inbound.actor, active=True
                )
                domain.require_registering_provider(inbound.actor, state.provider)
                exited = domain.decide_exit(
                    command,
                    provider=state.provider,
                    entry_date=state.entry_date,
                    exit_date=state.exit_date,
                )
                await repository.record_exit(
                    connection, command.participant_id, command.exit_date, command.reason
                )
                return (exited,)
            case RequestErasure() as command:
                return await self._erase(connection, inbound, command)
            case CorrectIdentity() as command:
                return await self._correct(connection, inbound, command)
            case RecordConsent() as command:
                return await self._record_consent(connection, inbound, command)
            case WithdrawConsent() as command:
                return await self._withdraw_consent(connection, inbound, command)
            case OverrideConsent() as command:
                return await self._override_consent(connection, inbound, command)
            case ApproveEligibilityException() as command:
                return await self._approve(connection, inbound, command)
            case DenyEligibilityException() as command:
                return await self._deny(connection, inbound, command)
            case ResolveDuplicate() as command:
                state = await self._state_for(
                    connection, command.participant_id, inbound.actor, active=True
                )
                was_open = await repository.decide_duplicate_review(
                    connection,
                    command.participant_id,
                    command.duplicate_of,
                    domain.review_status(command),
                    command.decided_by,
                )
                return domain.decide_duplicate_resolution(
                    command, review_was_open=was_open, today=self.clock.today()
                )
            case _:  # parse_command admits only ACCEPTED_COMMANDS
                msg = f"no handler for {type(inbound.command).__name__}"
                raise TypeError(msg)

    # --- registration ----------------------------------------------------------------------

    async def _register(
        self, connection: asyncpg.Connection, inbound: InboundCommand, command: RegisterParticipant
    ) -> Decision:
        provider = inbound.provider  # the channel: a provider's own (authorise checked it)
        programme = choose_programme(
            self._programmes, self._active, command.programme, command.entry_date
        )
        checked = domain.check_registration(
            command,
            provider=provider,
            participant_id=uuid.uuid4(),
            programme=programme,
            counties=self._counties,
        )
        identity, tokens = identities.prepared(connection, self.ring.vault, inbound, command)
        candidates = await identities.lock_and_compare(
            connection, self.ring, tokens, actor=inbound.actor.subject
        )
        match = best_match(identity, candidates)
        if match is not None and identities.made_in_batch(connection, match.participant_id):
            # Matched to a registration of this batch: its rows are read below.
            await write_deferred(connection)
        existing = (
            await repository.load_state(connection, match.participant_id)
            if match is not None and match.sure
            else None
        )
        registration = domain.decide_registration(
            checked,
            provider=provider,
            today=self.clock.today(),
            match=match,
            shares=match is not None
            and match.sure
            and await self._may_share(connection, match.participant_id, provider, command),
            # Duplicates are found statewide: the same person registered in another county
            # (and not exited there) moved.
            moved_from=existing.county
            if existing is not None and existing.exit_date is None
            else None,
        )
        events = registration.events
        if any(isinstance(event, ParticipantMoved) for event in events):
            await repository.record_move(
                connection,
                registration.participant_id,
                municipality=checked.event.municipality,
                county=checked.event.county,
            )
        if registration.status == domain.EXISTING_PARTICIPANT:
            await repository.link_provider(
                connection, registration.participant_id, provider, "assigned"
            )
            held = await repository.consent_of(connection, registration.participant_id)
            if command.consent is not None and command.consent != held:
                # What the person said last holds.
                existing = await repository.load_state(connection, registration.participant_id)
                if existing is not None:
                    changed = await self._consent_now(
                        connection,
                        registration.participant_id,
                        registered_by=existing.provider,
                        consent=command.consent,
                        by=inbound.actor.subject,
                    )
                    events = (*events, changed)
        new_person = registration.status != domain.EXISTING_PARTICIPANT
        # A new person's rows are not read back by this command: in a batch, they are
        # written at its flush (nothing outside one).
        with deferring(connection) if new_person else contextlib.nullcontext():
            if new_person:
                await self._store_person(
                    connection, inbound, command, registration, tokens=tokens, programme=programme
                )
                if command.consent is not None:
                    await repository.store_consent(
                        connection,
                        registration.participant_id,
                        command.consent,
                        by=inbound.actor.subject,
                    )
            await repository.add_registration_result(
                connection,
                provider=inbound.provider,
                command_id=inbound.envelope.id,
                participant_id=registration.participant_id,
                status=registration.status,
            )
        log.info(
            "registration stored",
            participant_id=str(registration.participant_id),
            status=registration.status,
        )
        return Decision(
            events=events,
            participant=registration.participant_id,
            status=registration.status,
            failed_rules=domain.rule_failures(registration.waivable_failures),
        )

    async def _may_share(
        self,
        connection: asyncpg.Connection,
        participant_id: uuid.UUID,
        provider: str,
        command: RegisterParticipant,
    ) -> bool:
        """Whether the person's consent (held or just given) or an override lets `provider` in."""
        today = self.clock.today()
        return domain.may_share(
            held=await repository.consent_of(connection, participant_id),
            given=command.consent,
            overrides=await repository.overrides_in_force(connection, participant_id, today),
            provider=provider,
            today=today,
        )

    async def _consent_now(
        self,
        connection: asyncpg.Connection,
        participant_id: uuid.UUID,
        *,
        registered_by: str,
        consent: Consent | None,
        by: str | None,
    ) -> ConsentChanged:
        """Keep `consent` (if one is given), unlink whom it no longer covers, say what holds."""
        today = self.clock.today()
        if consent is not None and by is not None:
            await repository.store_consent(connection, participant_id, consent, by=by)
        held = await repository.consent_of(connection, participant_id)
        overrides = await repository.overrides_in_force(connection, participant_id, today)
        keep = domain.still_linked(held, overrides, today)
        if keep is not None:
            await repository.unlink_unshared(connection, participant_id, keep)
        return domain.consent_changed(
            participant_id,
            registered_by=registered_by,
            today=today,
            consent=held,
            overrides=overrides,
        )

    async def _record_consent(
        self, connection: asyncpg.Connection, inbound: InboundCommand, command: RecordConsent
    ) -> Decision:
        pid = command.participant_id
        state = await self._state_for(connection, pid, inbound.actor, active=True)
        changed = await self._consent_now(
            connection,
            pid,
            registered_by=state.provider,
            consent=command.consent,
            by=inbound.actor.subject,
        )
        await self._audit_consent(connection, inbound, pid, "consent recorded")
        return Decision(events=(changed,), participant=pid)

    async def _withdraw_consent(
        self, connection: asyncpg.Connection, inbound: InboundCommand, command: WithdrawConsent
    ) -> Decision:
        pid = command.participant_id
        state = await self._state_for(connection, pid, inbound.actor, active=True)
        left = domain.withdrawn(await repository.consent_of(connection, pid), command)
        changed = await self._consent_now(
            connection, pid, registered_by=state.provider, consent=left, by=inbound.actor.subject
        )
        scopes = ", ".join(scope.value for scope in command.scopes)
        await self._audit_consent(connection, inbound, pid, f"consent withdrawn: {scopes}")
        return Decision(events=(changed,), participant=pid)

    async def _override_consent(
        self, connection: asyncpg.Connection, inbound: InboundCommand, command: OverrideConsent
    ) -> Decision:
        pid = command.participant_id
        state = await self._state_for(connection, pid, inbound.actor, active=True)
        today = self.clock.today()
        domain.check_override(
            command, registered_by=state.provider, providers=self.providers, today=today
        )
        await repository.add_override(
            connection,
            pid,
            provider=command.provider,
            until=command.until,
            reason=await self.ring.encrypt_for(pid, command.reason),
            decided_by=command.decided_by,
        )
        await repository.link_provider(connection, pid, command.provider, "override")
        changed = await self._consent_now(
            connection, pid, registered_by=state.provider, consent=None, by=None
        )
        await self._audit_consent(
            connection,
            inbound,
            pid,
            f"consent override: {command.provider} until {command.until.isoformat()}",
        )
        assigned = ProviderAssigned(
            participant_id=pid, provider=command.provider, assigned_on=today
        )
        return Decision(events=(assigned, changed), participant=pid)

    async def _audit_consent(
        self, connection: asyncpg.Connection, inbound: InboundCommand, pid: uuid.UUID, what: str
    ) -> None:
        await audit.record(
            connection,
            actor=inbound.actor.subject,
            action="consent.write",
            participant_id=pid,
            purpose=what,
        )

    async def announce_consent_ends(self, connection: asyncpg.Connection, pid: uuid.UUID) -> None:
        """A consent expired or an override ended: unlink whom it covered, and say so."""
        state = await repository.load_state(connection, pid)
        if state is None:
            return
        changed = await self._consent_now(
            connection, pid, registered_by=state.provider, consent=None, by=None
        )
        await repository.consent_changes_announced(connection, pid, self.clock.today())
        await self.announce(connection, changed, correlationid=f"consent-expiry:{pid}")

    async def _store_person(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        command: RegisterParticipant,
        registration: domain.Registration,
        *,
        tokens: identities.IndexTokens,
        programme: Programme | None,
    ) -> None:
        """A new person: the record, the sealed identifiers, the dated histories, the audit."""
        participant_id = registration.participant_id
        pending = registration.status == domain.PENDING_EXCEPTION
        await repository.insert_participant(
            connection,
            participant_id=participant_id,
            provider=inbound.provider,
            command_id=inbound.envelope.id,
            status=domain.PENDING_EXCEPTION if pending else domain.REGISTERED,
            programme=programme.id if programme else None,
            command=command,
            failed_rules=[domain.failure_record(f) for f in registration.waivable_failures],
            pending_event=registration.event.model_dump(mode="json") if pending else None,
            county=registration.event.county,
        )
        await identities.seal_and_store(connection, self.ring, participant_id, command, tokens)
        await audit.add(
            connection,
            actor=inbound.actor.subject,
            action="identity.write",
            participant_id=participant_id,
            purpose="registration",
        )
        if registration.possible_duplicate_of is not None:
            match = registration.possible_duplicate_of
            await repository.add_duplicate_review(
                connection, participant_id, match.participant_id, match.match.score
            )

    # --- commands about a registered person ----------------------------------------------

    async def _state_for(
        self,
        connection: asyncpg.Connection,
        participant_id: uuid.UUID,
        actor: Actor,
        *,
        active: bool = False,
    ) -> repository.ParticipantState:
        """The person's state, if the actor may act on them (else "unknown participant").

        `active`: the command needs a registered person, not a pending, denied or erased one.
        """
        state = await repository.load_state(connection, participant_id)
        linked = await repository.provider_linked(connection, participant_id, actor.provider)
        allowed = domain.require_access(actor, state, linked=linked)
        if active:
            domain.require_active(allowed.status)
        return allowed

    async def _erase(
        self, connection: asyncpg.Connection, inbound: InboundCommand, command: RequestErasure
    ) -> Decision:
        state = await self._state_for(connection, command.participant_id, inbound.actor)
        domain.require_registering_provider(inbound.actor, state.provider)
        events = domain.decide_erasure(command, status=state.status, today=self.clock.today())
        held = await repository.legal_hold_in_force(connection, command.participant_id)
        if events is not None and held is not None:
            # Kept for a legal claim: only the controller (a coordinator) decides to erase,
            # and doing so ends the hold.
            domain.require_no_hold(inbound.actor)
            await repository.release_legal_hold(
                connection, command.participant_id, released_by=inbound.actor.subject
            )
        if events is not None:  # identifiers still held
            await self._shred(
                connection,
                command.participant_id,
                actor=inbound.actor.subject,
                basis="request",
                purpose=f"erasure: {command.reason}",
            )
        return Decision(events=events or (), participant=command.participant_id)

    async def _correct(
        self, connection: asyncpg.Connection, inbound: InboundCommand, command: CorrectIdentity
    ) -> Decision:
        """Rectification: reseal, re-index, check for duplicates again, announce what counts."""
        pid = command.participant_id
        state = await self._state_for(connection, pid, inbound.actor)
        # A registration waiting for an exception is corrected too (a mistyped birth date
        # may be why it waits); it was never announced, so nothing is announced yet.
        pending = state.status == domain.PENDING_EXCEPTION
        if not pending:
            domain.require_active(state.status)
        domain.require_registering_provider(inbound.actor, state.provider)
        opened = (await self.ring.open(connection, [pid])).get(pid)
        if opened is None:  # the key is gone: erased, whatever the record says yet
            raise domain.erased_violation()
        correction = domain.decide_correction(
            command,
            current=opened.fields,
            sex=state.sex,
            country_of_origin=state.country_of_origin,
            entry_date=state.entry_date,
            today=self.clock.today(),
        )
        if not correction.changed:
            return Decision(participant=pid)
        identity = Identity(
            correction.fields["given_name"],
            correction.fields["family_name"],
            date.fromisoformat(correction.fields["birth_date"]),
        )
        tokens = identities.index_tokens(self.ring.vault, identity)
        await self.ring.reseal(connection, pid, correction.fields, tokens)
        others = [
            c
            for c in await identities.lock_and_compare(
                connection, self.ring, tokens, actor=inbound.actor.subject
            )
            if c.participant_id != pid
        ]
        match = best_match(identity, others)
        if match is not None:  # a coordinator decides; a correction never merges by itself
            await repository.add_duplicate_review_pair(
                connection, pid, match.participant_id, match.match.score
            )
        event = correction.event
        if event is not None:
            await repository.correct_participant(
                connection, pid, sex=event.sex.value, country=event.country_of_origin
            )
            if pending:
                await repository.correct_pending_event(connection, event)
                event = None
        await repository.add_rectification(
            connection,
            pid,
            fields=list(correction.changed),
            reason=await self.ring.encrypt_for(pid, command.reason),
            corrected_by=inbound.actor.subject,
        )
        await audit.record(
            connection,
            actor=inbound.actor.subject,
            action="identity.rectify",
            participant_id=pid,
            purpose=f"rectification of {', '.join(correction.changed)}",
        )
        return Decision(events=(event,) if event else (), participant=pid)

    async def erase_when_due(
        self, connection: asyncpg.Connection, participant_id: uuid.UUID
    ) -> bool:
        """The deletion schedule's erasure of one person (locked by the caller); False: none.

        Announced like an erasure on request, correlated with nothing a provider sent.
        """
        state = await repository.load_state(connection, participant_id)
        # A hold set after the pass chose the person, before it locked them, counts too.
        if state is None or await repository.legal_hold_in_force(connection, participant_id):
            return False
        events = domain.decide_scheduled_erasure(
            participant_id, status=state.status, today=self.clock.today()
        )
        if events is None:
            return False
        await self._shred(
            connection,
            participant_id,
            actor=SCHEDULE_ACTOR,
            basis="schedule",
            purpose="deletion plan: the period ran out",
        )
        for event in events:
            await self.announce(
                connection, event, correlationid=f"deletion-schedule:{participant_id}"
            )
        return True

    async def _shred(
        self,
        connection: asyncpg.Connection,
        participant_id: uuid.UUID,
        *,
        actor: str,
        basis: str,
        purpose: str,
    ) -> None:
        """Destroy the person's key and identifiers; keep the erasure's record and audit it."""
        await self.ring.shred(connection, participant_id)
        await repository.record_erasure(
            connection, participant_id, erased_on=self.clock.today(), basis=basis
        )
        await audit.record(
            connection,
            actor=actor,
            action="identity.erase",
            participant_id=participant_id,
            purpose=purpose,
        )

    # --- coordinator decisions -------------------------------------------------------------

    async def _approve(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        command: ApproveEligibilityException,
    ) -> Decision:
        state = await self._state_for(connection, command.participant_id, inbound.actor)
        events = domain.decide_exception_approval(
            command,
            status=state.status,
            failed_rules=state.failed_rules,
            pending_event=state.pending_event,
            today=self.clock.today(),
        )
        reason = await self.ring.encrypt_for(command.participant_id, command.reason)
        await repository.add_exception_decision(
            connection,
            command.participant_id,
            decision="approved",
            rules=list(command.rules),
            reason_encrypted=reason,
            decided_by=command.approver,
            new_status=domain.REGISTERED,
        )
        return Decision(events=events, participant=command.participant_id, status="registered")

    async def _deny(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        command: DenyEligibilityException,
    ) -> Decision:
        state = await self._state_for(connection, command.participant_id, inbound.actor)
        domain.check_exception_denial(command, state.status)
        # The person never entered the programme: their identifiers have no purpose left.
        await self._shred(
            connection,
            command.participant_id,
            actor=inbound.actor.subject,
            basis="exception-denied",
            purpose="exception denied",
        )
        await repository.add_exception_decision(
            connection,
            command.participant_id,
            decision="denied",
            rules=[],
            reason_encrypted=None,
            decided_by=command.approver,
            new_status=domain.DENIED,
        )
        # The registering provider's registration was left pending: now it is answered.
        reply = rejection(
            service=SERVICE, error=domain.EXCEPTION_DENIED, command_id=None, command_type=None
        )
        reply = reply.model_copy(update={"subject": str(command.participant_id)})
        await enqueue(connection, outbound(state.provider, SERVICE), reply, key=None)
        return Decision(participant=command.participant_id, status="denied")

    # --- what other services report ------------------------------------------------------------

    async def learn(self, connection: asyncpg.Connection, event: Event | None) -> None:
        """Add DTZ results from `courses.events` to a registered person's German levels."""
        if not isinstance(event, ExamResultRecorded):
            return
        state = await repository.load_state(connection, event.participant_id)
        level = domain.level_from_exam(event, state.status if state else None)
        if level is not None:
            await repository.add_german_level(
                connection, event.participant_id, level, event.exam_date, "dtz"
            )
