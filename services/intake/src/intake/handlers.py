"""Intake's handlers: parse, authorise, load, decide, save and publish (through the outbox).

The same `execute` serves the Kafka inbound topics and the HTTP API, so both channels
behave identically: authorisation, deduplication, the audit trail and the replies on the
provider's outbound topic.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
from pydantic import ValidationError

from durchstarten.auth import Principal, Role
from durchstarten.db.pool import connection_from
from durchstarten.events import (
    CloudEvent,
    CommandAccepted,
    Event,
    RegisterParticipant,
    new_event,
    read_event,
)
from durchstarten.events.courses import ExamResultRecorded
from durchstarten.events.intake import (
    ApproveEligibilityException,
    DenyEligibilityException,
    DuplicateConfirmed,
    DuplicateDecision,
    EligibilityExceptionApproved,
    ParticipantRegistered,
    ProviderAssigned,
    RecordProgrammeExit,
    RecordResidenceStatusChange,
    RegisterParticipantV1,
    RequestErasure,
    ResolveDuplicate,
)
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.replies import RuleFailure
from durchstarten.events.topics import INTAKE_EVENTS, ServiceName, outbound
from durchstarten.events.values import DtzLevel, DtzOverall
from durchstarten.logging import get_logger
from durchstarten.messaging.broker import with_retries
from durchstarten.messaging.commands import InboundCommand, acceptance, rejection
from durchstarten.messaging.errors import PermanentError
from durchstarten.messaging.inbox import first_time
from durchstarten.messaging.outbox import enqueue
from durchstarten.service import ServiceRuntime
from intake import audit, domain, repository
from intake.eligibility import FailedRule, Programme, choose_programme
from intake.matching import Identity, Verdict, blocking_keys, compare
from intake.vault import Vault

log = get_logger(__name__)

SERVICE: ServiceName = "intake"
SOURCE = "/services/intake"
INBOX = "intake.commands"
ACCEPTED_COMMANDS = frozenset(
    {
        RegisterParticipant.command_type,
        RegisterParticipantV1.command_type,
        RecordResidenceStatusChange.command_type,
        RecordProgrammeExit.command_type,
        RequestErasure.command_type,
        ApproveEligibilityException.command_type,
        DenyEligibilityException.command_type,
        ResolveDuplicate.command_type,
    }
)
COORDINATOR_COMMANDS = (ApproveEligibilityException, DenyEligibilityException, ResolveDuplicate)


@dataclass(frozen=True)
class Actor:
    """Who sent a command: a provider (Kafka topic or token) or county staff (token)."""

    subject: str
    provider: str | None
    coordinator: bool

    @classmethod
    def provider_system(cls, provider: str) -> Actor:
        """A provider's system writing to its inbound topic."""
        return cls(subject=f"provider:{provider}", provider=provider, coordinator=False)

    @classmethod
    def from_principal(cls, principal: Principal) -> Actor:
        """A caller of the HTTP API."""
        staff = bool(principal.roles & {Role.COORDINATOR, Role.ADMIN})
        provider = principal.provider if Role.PROVIDER in principal.roles else None
        return cls(subject=principal.subject, provider=provider, coordinator=staff)


@dataclass(frozen=True)
class Outcome:
    """What became of a command."""

    accepted: bool
    participant_id: uuid.UUID | None = None
    status: str | None = None
    violation: domain.RuleViolation | None = None
    duplicate: bool = False
    failed_rules: tuple[FailedRule, ...] = field(default=())


def rule_failures(failures: tuple[FailedRule, ...]) -> list[RuleFailure]:
    """Failed rules as the replies carry them."""
    return [
        RuleFailure(
            reason=f.reason,
            field=f"data.{f.field}",
            waivable=f.waivable,
            message_de=f.message_de,
            message_en=f.message_en,
        )
        for f in failures
    ]


class IntakeHandlers:
    """Command handling for intake; dependencies come from the runtime."""

    def __init__(
        self,
        runtime: ServiceRuntime,
        *,
        vault: Vault,
        programmes: dict[str, Programme],
        active_programmes: list[str],
        providers: list[str],
    ) -> None:
        """Bind to the runtime's pool, dead letters and metrics, and to the vault."""
        self._runtime = runtime
        self._vault = vault
        self._programmes = programmes
        self._active = active_programmes
        self._providers = frozenset(providers)

    async def execute_record(self, inbound: InboundCommand, record: Any) -> str:
        """Carry out a command from `inbound.<provider>.intake` (the InboundEdge executor)."""
        outcome = await self.execute(inbound, Actor.provider_system(inbound.provider))
        return "duplicate" if outcome.duplicate else "processed"

    async def execute(self, inbound: InboundCommand, actor: Actor) -> Outcome:
        """Carry out one parsed command in one transaction, audit and replies included."""
        async with connection_from(self._runtime.pool) as connection, connection.transaction():
            if not await first_time(connection, INBOX, inbound.dedupe_key):
                result = await repository.registration_result(
                    connection, provider=inbound.provider, command_id=inbound.envelope.id
                )
                log.info("duplicate command skipped", command_id=inbound.envelope.id)
                return Outcome(
                    accepted=True,
                    participant_id=result[0] if result else None,
                    status=result[1] if result else None,
                    duplicate=True,
                )
            try:
                outcome = await self._dispatch(connection, inbound, actor)
            except domain.RuleViolation as violation:
                outcome = Outcome(accepted=False, violation=violation)
            if outcome.violation is not None:
                await self._reply_rejected(connection, inbound, outcome.violation)
            return outcome

    async def _dispatch(  # noqa: PLR0911  # one return per command type
        self, connection: asyncpg.Connection, inbound: InboundCommand, actor: Actor
    ) -> Outcome:
        command = inbound.command
        if isinstance(command, COORDINATOR_COMMANDS) and not actor.coordinator:
            raise domain.RuleViolation(
                ReasonCode.FORBIDDEN_ROLE,
                None,
                "Only a county coordinator may decide this.",
                "Nur die Koordinierung des Kreises darf dies entscheiden.",
            )
        if isinstance(command, RegisterParticipant) and actor.provider is None:
            raise domain.RuleViolation(
                ReasonCode.FORBIDDEN_ROLE,
                None,
                "Only a provider registers participants.",
                "Nur ein Träger meldet Teilnehmende an.",
            )
        match command:
            case RegisterParticipant():
                return await self._register(connection, inbound, command, actor)
            case RecordResidenceStatusChange():
                return await self._change_status(connection, inbound, command, actor)
            case RecordProgrammeExit():
                return await self._exit(connection, inbound, command, actor)
            case RequestErasure():
                return await self._erase(connection, inbound, command, actor)
            case ApproveEligibilityException():
                return await self._approve(connection, inbound, command, actor)
            case DenyEligibilityException():
                return await self._deny(connection, inbound, command, actor)
            case ResolveDuplicate():
                return await self._resolve_duplicate(connection, inbound, command, actor)
            case _:  # parse_command admits only ACCEPTED_COMMANDS
                msg = f"no handler for {type(command).__name__}"
                raise TypeError(msg)

    # --- registration ----------------------------------------------------------------------

    async def _register(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        command: RegisterParticipant,
        actor: Actor,
    ) -> Outcome:
        provider = actor.provider or inbound.provider
        programme = choose_programme(
            self._programmes, self._active, command.programme, command.entry_date
        )
        participant_id = uuid.uuid4()
        decision = domain.decide_registration(
            command, provider=provider, participant_id=participant_id, programme=programme
        )
        identity = Identity(command.given_name, command.family_name, command.birth_date)
        match = await self._best_match(connection, identity, actor)
        if match is not None and match[1].verdict is Verdict.SURE:
            existing = match[0]
            await repository.link_provider(connection, existing, provider, "assigned")
            assigned = ProviderAssigned(
                participant_id=existing, provider=provider, assigned_on=datetime.now(UTC).date()
            )
            await self._publish(connection, assigned, inbound)
            await repository.add_registration_result(
                connection,
                provider=inbound.provider,
                command_id=inbound.envelope.id,
                participant_id=existing,
                status="existing-participant",
            )
            await self._reply_accepted(
                connection, inbound, existing, command, status="existing-participant"
            )
            return Outcome(accepted=True, participant_id=existing, status="existing-participant")

        failed = [_failure_json(f) for f in decision.waivable_failures]
        await repository.insert_participant(
            connection,
            participant_id=participant_id,
            provider=provider,
            command_id=inbound.envelope.id,
            status=decision.status,
            programme=programme.id if programme else None,
            command=command,
            failed_rules=failed,
            pending_event=decision.event.model_dump(mode="json")
            if decision.status == domain.PENDING_EXCEPTION
            else None,
        )
        sealed = self._vault.seal(
            participant_id,
            {
                "given_name": command.given_name,
                "family_name": command.family_name,
                "birth_date": command.birth_date.isoformat(),
                "phone": command.phone,
                "email": command.email,
                "provider_reference": command.provider_reference,
            },
        )
        tokens = [self._vault.index_token(key) for key in blocking_keys(identity)]
        await repository.store_identity(connection, participant_id, sealed, tokens)
        await repository.add_status_history(
            connection,
            participant_id,
            command.residence_status.status,
            command.residence_status.legal_basis,
            command.residence_status.since,
        )
        await repository.add_german_level(
            connection,
            participant_id,
            command.german_level.model_dump(mode="json"),
            command.entry_date,
            "registration",
        )
        await audit.record(
            connection,
            actor=actor.subject,
            action="identity.write",
            participant_id=participant_id,
            purpose="registration",
        )
        status: str = decision.status
        if decision.status == domain.REGISTERED:
            await self._publish(connection, decision.event, inbound)
            if match is not None:
                status = "possible-duplicate"
                await repository.add_duplicate_review(
                    connection, participant_id, match[0], match[1].score
                )
        await repository.add_registration_result(
            connection,
            provider=inbound.provider,
            command_id=inbound.envelope.id,
            participant_id=participant_id,
            status=status,
        )
        await self._reply_accepted(
            connection,
            inbound,
            participant_id,
            command,
            status=status,
            failed_rules=decision.waivable_failures,
        )
        log.info("registration stored", participant_id=str(participant_id), status=status)
        return Outcome(
            accepted=True,
            participant_id=participant_id,
            status=status,
            failed_rules=decision.waivable_failures,
        )

    async def _best_match(
        self, connection: asyncpg.Connection, identity: Identity, actor: Actor
    ) -> tuple[uuid.UUID, Any] | None:
        """The most similar earlier registration, if any is at least a possible match."""
        tokens = [self._vault.index_token(key) for key in blocking_keys(identity)]
        # Two registrations of one person at the same moment must see each other: lock the
        # person's blocking keys (sorted, so two registrations never deadlock).
        await repository.lock_tokens(connection, sorted(tokens))
        candidate_ids = await repository.candidates(connection, tokens)
        if not candidate_ids:
            return None
        sealed = await repository.load_sealed(connection, candidate_ids)
        best: tuple[uuid.UUID, Any] | None = None
        for candidate_id, box in sealed.items():
            stored = self._vault.open(candidate_id, box)
            other = Identity(
                stored["given_name"],
                stored["family_name"],
                date.fromisoformat(stored["birth_date"]),
            )
            result = compare(identity, other)
            if result.verdict is not Verdict.DIFFERENT and (
                best is None or result.score > best[1].score
            ):
                best = (candidate_id, result)
        await audit.record(
            connection,
            actor=actor.subject,
            action="identity.compare",
            participant_id=None,
            purpose=f"duplicate check against {len(sealed)} registrations",
        )
        return best

    # --- commands about a registered person ----------------------------------------------

    async def _state_for(
        self, connection: asyncpg.Connection, participant_id: uuid.UUID, actor: Actor
    ) -> repository.ParticipantState:
        state = await repository.load_state(connection, participant_id)
        if state is None:
            raise domain.unknown_participant()
        if not actor.coordinator and (
            actor.provider is None
            or not await repository.provider_linked(connection, participant_id, actor.provider)
        ):
            raise domain.unknown_participant()
        return state

    async def _change_status(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        command: RecordResidenceStatusChange,
        actor: Actor,
    ) -> Outcome:
        state = await self._state_for(connection, command.participant_id, actor)
        domain.require_active(state.status)
        programme = self._programmes.get(state.programme or "")
        event = domain.decide_status_change(command, programme)
        await repository.add_status_history(
            connection, command.participant_id, command.status, command.legal_basis, command.since
        )
        await self._publish(connection, event, inbound)
        await self._reply_accepted(connection, inbound, command.participant_id)
        return Outcome(accepted=True, participant_id=command.participant_id)

    async def _exit(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        command: RecordProgrammeExit,
        actor: Actor,
    ) -> Outcome:
        state = await self._state_for(connection, command.participant_id, actor)
        domain.require_active(state.status)
        event = domain.decide_exit(
            command, provider=state.provider, entry_date=state.entry_date, exit_date=state.exit_date
        )
        await repository.record_exit(
            connection, command.participant_id, command.exit_date, command.reason
        )
        await self._publish(connection, event, inbound)
        await self._reply_accepted(connection, inbound, command.participant_id)
        return Outcome(accepted=True, participant_id=command.participant_id)

    async def _erase(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        command: RequestErasure,
        actor: Actor,
    ) -> Outcome:
        state = await self._state_for(connection, command.participant_id, actor)
        if state.status == domain.ERASED:
            await self._reply_accepted(connection, inbound, command.participant_id)
            return Outcome(accepted=True, participant_id=command.participant_id)
        await repository.erase(connection, command.participant_id)
        await audit.record(
            connection,
            actor=actor.subject,
            action="identity.erase",
            participant_id=command.participant_id,
            purpose=f"erasure: {command.reason}",
        )
        if state.status == domain.REGISTERED:  # others never announced the person
            event = domain.decide_erasure(command, today=datetime.now(UTC).date())
            await self._publish(connection, event, inbound)
        await self._reply_accepted(connection, inbound, command.participant_id)
        return Outcome(accepted=True, participant_id=command.participant_id)

    # --- coordinator decisions -------------------------------------------------------------

    async def _approve(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        command: ApproveEligibilityException,
        actor: Actor,
    ) -> Outcome:
        state = await self._state_for(connection, command.participant_id, actor)
        domain.check_exception_covers(command, state.status, state.failed_rules)
        key = await repository.wrapped_key(connection, command.participant_id)
        reason = (
            self._vault.encrypt_with(command.participant_id, key, command.reason) if key else None
        )
        await repository.add_exception_decision(
            connection,
            command.participant_id,
            decision="approved",
            rules=list(command.rules),
            reason_encrypted=reason,
            decided_by=command.approver,
        )
        await repository.set_status(connection, command.participant_id, domain.REGISTERED)
        approved = EligibilityExceptionApproved(
            participant_id=command.participant_id,
            rules=command.rules,
            approver=command.approver,
            approved_on=datetime.now(UTC).date(),
        )
        await self._publish(connection, approved, inbound)
        registered = ParticipantRegistered.model_validate(state.pending_event or {})
        await self._publish(connection, registered, inbound)
        await self._reply_accepted(connection, inbound, command.participant_id)
        return Outcome(accepted=True, participant_id=command.participant_id, status="registered")

    async def _deny(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        command: DenyEligibilityException,
        actor: Actor,
    ) -> Outcome:
        state = await self._state_for(connection, command.participant_id, actor)
        if state.status != domain.PENDING_EXCEPTION:
            raise domain.RuleViolation(
                ReasonCode.NO_EXCEPTION_PENDING,
                "participant_id",
                "No exception is pending for this registration.",
                "Für diese Anmeldung steht keine Ausnahme zur Entscheidung an.",
            )
        await repository.add_exception_decision(
            connection,
            command.participant_id,
            decision="denied",
            rules=[],
            reason_encrypted=None,
            decided_by=command.approver,
        )
        # The person never entered the programme: their identifiers have no purpose left.
        await repository.erase(connection, command.participant_id)
        await repository.set_status(connection, command.participant_id, domain.DENIED)
        await audit.record(
            connection,
            actor=actor.subject,
            action="identity.erase",
            participant_id=command.participant_id,
            purpose="exception denied",
        )
        error = PermanentError(
            ReasonCode.ELIGIBILITY_EXCEPTION_DENIED,
            message_en="The county coordinator did not approve the exception.",
            message_de="Die Koordinierung des Kreises hat die Ausnahme nicht genehmigt.",
        )
        reply = rejection(service=SERVICE, error=error, command_id=None, command_type=None)
        reply = reply.model_copy(update={"subject": str(command.participant_id)})
        await enqueue(connection, outbound(state.provider, SERVICE), reply, key=None)
        await self._reply_accepted(connection, inbound, command.participant_id)
        return Outcome(accepted=True, participant_id=command.participant_id, status="denied")

    async def _resolve_duplicate(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        command: ResolveDuplicate,
        actor: Actor,
    ) -> Outcome:
        state = await self._state_for(connection, command.participant_id, actor)
        domain.require_active(state.status)
        status = "confirmed" if command.decision is DuplicateDecision.CONFIRMED else "rejected"
        decided = await repository.decide_duplicate_review(
            connection, command.participant_id, command.duplicate_of, status, command.decided_by
        )
        if not decided:
            raise domain.RuleViolation(
                ReasonCode.NO_DUPLICATE_REVIEW,
                "duplicate_of",
                "No open duplicate check concerns these two registrations.",
                "Zu diesen beiden Anmeldungen steht keine Dublettenprüfung offen.",
            )
        if command.decision is DuplicateDecision.CONFIRMED:
            event = DuplicateConfirmed(
                participant_id=command.participant_id,
                duplicate_of=command.duplicate_of,
                confirmed_on=datetime.now(UTC).date(),
            )
            await self._publish(connection, event, inbound)
        await self._reply_accepted(connection, inbound, command.participant_id)
        return Outcome(accepted=True, participant_id=command.participant_id)

    # --- what other services report ------------------------------------------------------------

    async def on_courses_record(self, record: Any) -> None:
        """Add DTZ results from `courses.events` to the German-level history."""
        try:
            envelope = CloudEvent.from_json(record.value or b"")
            if envelope.type != ExamResultRecorded.event_type:
                return  # attendance, funding and the like: nothing intake keeps
            event = read_event(envelope)
        except ValidationError:
            await self._runtime.dead_letters.park(
                record, error_class="invalid-event", error_message="not a valid courses event"
            )
            return
        if not isinstance(event, ExamResultRecorded) or event.overall is DtzOverall.DID_NOT_SIT:
            return

        async def work() -> None:
            async with connection_from(self._runtime.pool) as connection, connection.transaction():
                if not await first_time(connection, "intake.courses-events", envelope.id):
                    return
                state = await repository.load_state(connection, event.participant_id)
                if state is None or state.status != domain.REGISTERED:
                    return  # unknown here, or erased: nothing to keep
                await repository.add_german_level(
                    connection, event.participant_id, dtz_as_cefr(event), event.exam_date, "dtz"
                )

        await with_retries(work, what=f"courses event {record.topic}@{record.offset}")

    # --- replies and events ------------------------------------------------------------------

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
        await enqueue(connection, INTAKE_EVENTS, envelope, key=participant_id)

    async def _reply_accepted(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        participant_id: uuid.UUID,
        command: RegisterParticipant | None = None,
        *,
        status: str | None = None,
        failed_rules: tuple[FailedRule, ...] = (),
    ) -> None:
        if inbound.provider not in self._providers:
            return  # county staff over HTTP: the HTTP response is their reply
        reply = CommandAccepted(
            command_id=inbound.envelope.id,
            command_type=inbound.envelope.type,
            participant_id=participant_id,
            provider_reference=command.provider_reference if command else None,
            status=status,
            failed_rules=rule_failures(failed_rules),
        )
        await enqueue(
            connection,
            outbound(inbound.provider, SERVICE),
            acceptance(service=SERVICE, inbound=inbound, reply=reply),
            key=str(participant_id),
        )

    async def _reply_rejected(
        self,
        connection: asyncpg.Connection,
        inbound: InboundCommand,
        violation: domain.RuleViolation,
    ) -> None:
        if inbound.provider not in self._providers:
            return  # county staff over HTTP: the HTTP response is their reply
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
        )
        if violation.failed_rules:
            data = reply.data | {
                "failed_rules": [
                    r.model_dump(mode="json") for r in rule_failures(violation.failed_rules)
                ]
            }
            reply = reply.model_copy(update={"data": data})
        await enqueue(connection, outbound(inbound.provider, SERVICE), reply, key=None)


_DTZ_TO_CEFR = {DtzLevel.B1: "B1", DtzLevel.A2: "A2", DtzLevel.BELOW_A2: "A1"}


def dtz_as_cefr(result: ExamResultRecorded) -> dict[str, Any]:
    """A DTZ result as CEFR levels per skill ("below A2" is recorded as A1)."""
    overall = {DtzOverall.B1: "B1", DtzOverall.A2: "A2"}.get(result.overall, "A1")

    def level(skill: DtzLevel | None) -> str | None:
        return _DTZ_TO_CEFR[skill] if skill is not None else None

    return {
        "overall": overall,
        "listening": level(result.listening_reading),
        "reading": level(result.listening_reading),
        "writing": level(result.writing),
        "speaking": level(result.speaking),
    }


def _failure_json(failure: FailedRule) -> dict[str, Any]:
    return {
        "reason": failure.reason,
        "field": failure.field,
        "waivable": failure.waivable,
        "rule": failure.rule,
        "message_en": failure.message_en,
        "message_de": failure.message_de,
    }
