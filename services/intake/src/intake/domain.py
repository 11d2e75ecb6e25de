"""Intake's pure rules: what each command means for a registration, as events.

No I/O here: the handlers load the state, supply pseudonyms, dates, the programme and the
duplicate candidates, and persist what these functions decide.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final, Literal, Protocol, TypeVar

from durchstarten.counties import Counties, County
from durchstarten.domain import RuleViolation, consent_required
from durchstarten.events import Event, ParticipantRegistered, RegisterParticipant
from durchstarten.events.courses import ExamResultRecorded
from durchstarten.events.intake import (
    ApproveEligibilityException,
    ConsentChanged,
    CorrectIdentity,
    DenyEligibilityException,
    DuplicateConfirmed,
    DuplicateDecision,
    EligibilityExceptionApproved,
    OverrideConsent,
    ParticipantCorrected,
    ParticipantErased,
    ParticipantExited,
    ParticipantMoved,
    ProviderAssigned,
    RecordProgrammeExit,
    RecordResidenceStatusChange,
    RequestErasure,
    ResidenceStatusChanged,
    ResolveDuplicate,
    WithdrawConsent,
)
from durchstarten.events.parts import (
    Consent,
    ConsentFact,
    ConsentOverrideFact,
    GermanLevelFact,
    ResidenceStatusFact,
)
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.replies import RuleFailure
from durchstarten.events.values import ConsentScope, DtzLevel, DtzOverall, ErasureReason, Sex
from durchstarten.messaging.commands import Actor
from durchstarten.messaging.errors import PermanentError
from intake.eligibility import Applicant, FailedRule, Programme, age_on, evaluate
from intake.matching import BestMatch

__all__ = ["RuleViolation"]  # re-exported: intake's rules raise the shared violation

MAX_PLAUSIBLE_AGE = 100

REGISTERED: Final = "registered"
PENDING_EXCEPTION: Final = "pending-exception"
DENIED: Final = "denied"
ERASED: Final = "erased"
EXISTING_PARTICIPANT: Final = "existing-participant"
POSSIBLE_DUPLICATE: Final = "possible-duplicate"

COORDINATOR_COMMANDS = (
    ApproveEligibilityException,
    DenyEligibilityException,
    ResolveDuplicate,
    OverrideConsent,
)
MAX_OVERRIDE = timedelta(days=30)
"""The longest a coordinator's break-glass override may last."""

RegistrationStatus = Literal[
    "registered", "pending-exception", "existing-participant", "possible-duplicate"
]


@dataclass(frozen=True)
class Registration:
    """A registration's outcome and what to announce.

    `participant_id` is the new pseudonym, or the existing person's for a sure duplicate.
    `event` is the new person's announcement: published now when registered, kept until a
    coordinator decides when an exception is pending.
    """

    status: RegistrationStatus
    participant_id: uuid.UUID
    event: ParticipantRegistered
    events: tuple[Event, ...]
    waivable_failures: tuple[FailedRule, ...]
    possible_duplicate_of: BestMatch | None = field(default=None)


def authorise(command: object, actor: Actor) -> None:
    """Coordinators decide exceptions and duplicates; only providers register people."""
    if isinstance(command, COORDINATOR_COMMANDS) and not actor.coordinator:
        raise RuleViolation(
            ReasonCode.FORBIDDEN_ROLE,
            None,
            "Only a county coordinator may decide this.",
            "Nur die Koordinierung des Kreises darf dies entscheiden.",
        )
    if isinstance(command, RegisterParticipant) and actor.provider is None:
        raise RuleViolation(
            ReasonCode.FORBIDDEN_ROLE,
            None,
            "Only a provider registers participants.",
            "Nur ein Träger meldet Teilnehmende an.",
        )


def rule_failures(failures: tuple[FailedRule, ...]) -> tuple[RuleFailure, ...]:
    """Failed rules as the replies carry them (fields as paths in the envelope)."""
    return tuple(
        RuleFailure(
            reason=f.reason,
            field=f"data.{f.field}",
            waivable=f.waivable,
            message_de=f.message_de,
            message_en=f.message_en,
        )
        for f in failures
    )


def failure_record(failure: FailedRule) -> dict[str, Any]:
    """A failed rule as stored with a pending registration (the approval must waive it)."""
    return {
        "reason": failure.reason,
        "field": failure.field,
        "waivable": failure.waivable,
        "rule": failure.rule,
        "message_en": failure.message_en,
        "message_de": failure.message_de,
    }


@dataclass(frozen=True)
class Eligible:
    """A registration that passed the programme's rules, perhaps with waivable failures."""

    event: ParticipantRegistered
    waivable_failures: tuple[FailedRule, ...]


def decide_registration(
    checked: Eligible,
    *,
    provider: str,
    today: date,
    match: BestMatch | None,
    shares: bool = False,
    moved_from: str | None = None,
) -> Registration:
    """Decide an eligible registration: pending an exception, registered, or a duplicate.

    A sure match makes it the existing person's (the provider is assigned, whatever the
    new registration's waivable failures), but only if `shares`: the person consented to
    data sharing between providers, or a coordinator's override lets this provider in; when
    the existing person lives in another county (`moved_from`), the person moved: one person
    statewide, an exit there and an entry here;
    failures a coordinator may waive make it wait for an exception; a possible match
    registers the person and asks a coordinator to look.
    """
    event, failures = checked.event, checked.waivable_failures
    if match is not None and match.sure:
        if not shares:
            raise consent_required()
        assigned = ProviderAssigned(
            participant_id=match.participant_id, provider=provider, assigned_on=today
        )
        events: tuple[Event, ...] = (assigned,)
        if moved_from is not None and moved_from != event.county:
            moved = ParticipantMoved(
                participant_id=match.participant_id,
                provider=provider,
                from_county=moved_from,
                to_county=event.county,
                municipality=event.municipality,
                moved_on=event.entry_date,
            )
            events = (assigned, moved)
        return Registration(EXISTING_PARTICIPANT, match.participant_id, event, events, ())
    if failures:
        return Registration(PENDING_EXCEPTION, event.participant_id, event, (), failures)
    if match is not None:
        return Registration(POSSIBLE_DUPLICATE, event.participant_id, event, (event,), (), match)
    return Registration(REGISTERED, event.participant_id, event, (event,), ())


def county_for(command: RegisterParticipant, *, provider: str, counties: Counties) -> County:
    """The county the person lives in, which must be one the provider works in.

    An unknown key and a county the provider does not work in are refused, naming the field.
    """
    county = counties.county_of(command.municipality)
    if county is None:
        raise RuleViolation(
            ReasonCode.UNKNOWN_MUNICIPALITY,
            "municipality",
            "No configured county has a municipality with this key (AGS, 8 digits).",
            "Kein eingerichteter Kreis hat eine Kommune mit diesem Schlüssel (AGS, 8 Ziffern).",
        )
    if county.provider(provider) is None:
        raise RuleViolation(
            ReasonCode.PROVIDER_NOT_IN_COUNTY,
            "municipality",
            f"You do not work in {county.name}; register people only in your counties.",
            f"Sie sind in {county.name} nicht tätig; melden Sie nur in Ihren Kreisen an.",
        )
    return county


def check_registration(
    command: RegisterParticipant,
    *,
    provider: str,
    participant_id: uuid.UUID,
    programme: Programme | None,
    counties: Counties,
) -> Eligible:
    """Check place, dates and the programme's rules; build the event announcing the person.

    Failures a coordinator may waive are kept for an exception; any other failure rejects
    the registration, naming every rule that failed.
    """
    county = county_for(command, provider=provider, counties=counties)
    if command.entry_date < command.birth_date:
        raise RuleViolation(
            ReasonCode.ENTRY_BEFORE_BIRTH,
            "entry_date",
            "The entry date lies before the birth date.",
            "Das Eintrittsdatum liegt vor dem Geburtsdatum.",
        )
    age = age_on(command.birth_date, command.entry_date)
    if age > MAX_PLAUSIBLE_AGE:
        raise RuleViolation(
            ReasonCode.IMPLAUSIBLE_AGE,
            "birth_date",
            f"The age at entry would be over {MAX_PLAUSIBLE_AGE} years.",
            f"Das Alter bei Eintritt läge über {MAX_PLAUSIBLE_AGE} Jahren.",
        )
    if programme is None:
        raise RuleViolation(
            ReasonCode.UNKNOWN_PROGRAMME,
            "programme",
            "This deployment runs no such programme.",
            "Diese Installation führt kein solches Programm.",
        )
    failures = evaluate(
        programme,
        Applicant(
            birth_date=command.birth_date,
            entry_date=command.entry_date,
            residence_status=command.residence_status.status,
            county_runs_programme=county.runs(programme.id, command.entry_date),
            lives_in_state_reception_facility=command.lives_in_state_reception_facility,
        ),
    )
    if any(not failure.waivable for failure in failures):
        raise RuleViolation(
            ReasonCode.NOT_ELIGIBLE,
            failures[0].field,
            "The person does not meet the programme's rules: "
            + "; ".join(f.message_en for f in failures),
            "Die Person erfüllt die Regeln des Programms nicht: "
            + "; ".join(f.message_de for f in failures),
            rule_failures(tuple(failures)),
        )
    event = ParticipantRegistered(
        participant_id=participant_id,
        provider=provider,
        entry_date=command.entry_date,
        age_at_entry=age,
        sex=command.sex,
        country_of_origin=command.country_of_origin,
        residence_status=ResidenceStatusFact.model_validate(command.residence_status.model_dump()),
        municipality=command.municipality,
        county=county.key,
        school_education=command.school_education,
        german_level_at_entry=GermanLevelFact.model_validate(command.german_level.model_dump()),
        languages=command.languages,
        eligibility_exception=bool(failures),
        employment_ban=command.employment_ban,
        consent=ConsentFact.model_validate(command.consent.model_dump())
        if command.consent
        else None,
    )
    return Eligible(event, tuple(failures))


def _unknown() -> RuleViolation:
    # The same answer for "does not exist" and "not yours": nothing about other providers'
    # participants can be learnt from it.
    return RuleViolation(
        ReasonCode.UNKNOWN_PARTICIPANT,
        "participant_id",
        "No participant with this id is known to you.",
        "Eine Person mit dieser Kennung ist Ihnen nicht bekannt.",
    )


def require_active(status: str | None) -> None:
    """Commands about a person need a registered (not erased, not denied) participant."""
    if status is None or status in {DENIED, PENDING_EXCEPTION}:
        raise _unknown()
    if status == ERASED:
        raise erased_violation()


def erased_violation() -> RuleViolation:
    """The rejection of a command about a person whose data was erased."""
    return RuleViolation(
        ReasonCode.PARTICIPANT_ERASED,
        "participant_id",
        "This participant's data was erased.",
        "Die Daten dieser Person wurden gelöscht.",
    )


def unknown_participant() -> RuleViolation:
    """The rejection for a participant the caller may not see."""
    return _unknown()


def decide_status_change(
    command: RecordResidenceStatusChange, programme: Programme | None
) -> ResidenceStatusChanged:
    """The new status, and whether the programme's status rule still holds."""
    rule = programme.residence_status if programme is not None else None
    return ResidenceStatusChanged(
        participant_id=command.participant_id,
        residence_status=ResidenceStatusFact(
            status=command.status, legal_basis=command.legal_basis, since=command.since
        ),
        programme_eligible=None if rule is None else command.status in rule.allowed,
    )


def decide_exit(
    command: RecordProgrammeExit, *, provider: str, entry_date: date, exit_date: date | None
) -> ParticipantExited:
    """A programme exit, after the entry and only once."""
    if exit_date is not None:
        raise RuleViolation(
            ReasonCode.ALREADY_EXITED,
            "participant_id",
            f"The exit was recorded already ({exit_date}).",
            f"Der Austritt ist bereits erfasst ({exit_date}).",
        )
    if command.exit_date < entry_date:
        raise RuleViolation(
            ReasonCode.EXIT_BEFORE_ENTRY,
            "exit_date",
            "The exit date lies before the entry date.",
            "Das Austrittsdatum liegt vor dem Eintrittsdatum.",
        )
    return ParticipantExited(
        participant_id=command.participant_id,
        provider=provider,
        exit_date=command.exit_date,
        reason=command.reason,
    )


def may_act_on(actor: Actor, *, linked: bool, county: str) -> bool:
    """County staff act on (and read) the people of their county; a provider those linked to it.

    `county` is the person's county; an administrator's actor covers every county.
    """
    return actor.covers(county) or (actor.provider is not None and linked)


def require_registering_provider(actor: Actor, registered_by: str) -> None:
    """The exit and erasure are the registering provider's (or county staff's) to record.

    A provider assigned after a sure duplicate works with the person (names to recognise
    them, cases, sessions, residence status changes), but does not end the programme nor
    erase the person's data on the registering provider's behalf.
    """
    if actor.coordinator or actor.provider == registered_by:
        return
    raise RuleViolation(
        ReasonCode.NOT_REGISTERING_PROVIDER,
        "participant_id",
        "Only the registering provider or a county coordinator may do this.",
        "Dies darf nur der anmeldende Träger oder die Koordinierung des Kreises.",
    )


class _InCounty(Protocol):
    @property
    def county(self) -> str: ...


InCountyT = TypeVar("InCountyT", bound=_InCounty)


def require_access(actor: Actor, state: InCountyT | None, *, linked: bool) -> InCountyT:
    """The person's state, if the actor may act on them (their county's staff, a provider).

    Anyone else hears "unknown", exactly as for an id that does not exist: a coordinator of
    another county learns nothing of the person either.
    """
    if state is None or not may_act_on(actor, linked=linked, county=state.county):
        raise _unknown()
    return state


def decide_erasure(
    command: RequestErasure, *, status: str, today: date
) -> tuple[Event, ...] | None:
    """Erasure is always possible for a known participant; aggregates frozen earlier stay.

    None: erased already, nothing left to do. Otherwise the events to announce: only a
    registered person was ever announced, so only then do other services need telling.
    """
    if status == ERASED:
        return None
    if status != REGISTERED:
        return ()
    return (
        ParticipantErased(
            participant_id=command.participant_id, erased_on=today, reason=command.reason
        ),
    )


# --- consent ----------------------------------------------------------------------------

SHARING = ConsentScope.DATA_SHARING_BETWEEN_PROVIDERS


def may_share(
    *,
    held: Consent | None,
    given: Consent | None,
    overrides: Sequence[tuple[str, date]],
    provider: str,
    today: date,
) -> bool:
    """Whether `provider` may be linked to a person someone else registered, on `today`."""
    if any(c is not None and c.covers(SHARING, today) for c in (held, given)):
        return True
    return any(who == provider and today <= until for who, until in overrides)


def still_linked(
    consent: Consent | None, overrides: Sequence[tuple[str, date]], today: date
) -> list[str] | None:
    """None: data sharing holds, every link stays; else the providers an override keeps."""
    if consent is not None and consent.covers(SHARING, today):
        return None
    return sorted({who for who, until in overrides if today <= until})


def consent_changed(
    participant_id: uuid.UUID,
    *,
    registered_by: str,
    today: date,
    consent: Consent | None,
    overrides: Sequence[tuple[str, date]],
) -> ConsentChanged:
    """What now holds of the person's consent and the overrides, for the other services."""
    return ConsentChanged(
        participant_id=participant_id,
        registered_by=registered_by,
        changed_on=today,
        consent=ConsentFact.model_validate(consent.model_dump()) if consent else None,
        overrides=[
            ConsentOverrideFact(provider=who, until=until)
            for who, until in overrides
            if today <= until
        ],
    )


def withdrawn(consent: Consent | None, command: WithdrawConsent) -> Consent:
    """The consent left after a withdrawal (no scope left: a consent to nothing)."""
    if consent is None:
        return Consent(scopes=[], given_on=command.withdrawn_on)
    left = [scope for scope in consent.scopes if scope not in command.scopes]
    return consent.model_copy(update={"scopes": left})


def check_override(
    command: OverrideConsent, *, registered_by: str, providers: frozenset[str], today: date
) -> None:
    """An override names another configured provider and lasts from today, 30 days at most."""
    if command.provider not in providers or command.provider == registered_by:
        raise RuleViolation(
            ReasonCode.UNKNOWN_PROVIDER_TARGET,
            "provider",
            "Name another provider of this programme.",
            "Nennen Sie einen anderen Träger des Programms.",
        )
    if not today <= command.until <= today + MAX_OVERRIDE:
        raise RuleViolation(
            ReasonCode.INVALID_FIELD,
            "until",
            f"An override lasts from today, {MAX_OVERRIDE.days} days at most.",
            f"Eine Freigabe gilt ab heute, höchstens {MAX_OVERRIDE.days} Tage.",
        )


@dataclass(frozen=True)
class Correction:
    """What a rectification changes: the identifiers to seal, and the announcement."""

    fields: dict[str, Any]
    """The person's identifiers after the correction, as the vault stores them."""
    changed: tuple[str, ...]
    """The names of the fields whose value changed (none: nothing to do)."""
    event: ParticipantCorrected | None
    """Set when a field the reports count changed."""


def decide_correction(
    command: CorrectIdentity,
    *,
    current: dict[str, Any],
    sex: str,
    country_of_origin: str,
    entry_date: date,
    today: date,
) -> Correction:
    """Apply a rectification to the identifiers held; announce what reports count.

    The admission stands: a corrected birth date that would have failed the age rule is for
    the coordinator to look at, not a reason to undo the person's participation.
    """
    updates = command.corrections()
    # Sex and country are the record's columns (reports count them), not sealed identifiers.
    before = current | {"sex": sex, "country_of_origin": country_of_origin}
    after = before | updates
    changed = tuple(name for name in updates if before.get(name) != after[name])
    new_sex, new_country = str(after["sex"]), str(after["country_of_origin"])
    old_age = age_on(date.fromisoformat(current["birth_date"]), entry_date)
    new_age = age_on(date.fromisoformat(after["birth_date"]), entry_date)
    if new_age < 0:
        raise RuleViolation(
            ReasonCode.ENTRY_BEFORE_BIRTH,
            "birth_date",
            "The corrected birth date lies after the programme entry.",
            "Das berichtigte Geburtsdatum liegt nach dem Eintritt.",
        )
    reported = (new_age, new_sex, new_country) != (old_age, sex, country_of_origin)
    event = (
        ParticipantCorrected(
            participant_id=command.participant_id,
            corrected_on=today,
            age_at_entry=new_age,
            sex=Sex(new_sex),
            country_of_origin=new_country,
        )
        if reported
        else None
    )
    sealed = {k: v for k, v in after.items() if k not in {"sex", "country_of_origin"}}
    return Correction(sealed, changed, event)


def require_no_hold(actor: Actor) -> None:
    """Under a legal hold, only county staff (the controller) may have identifiers erased."""
    if not actor.coordinator:
        raise RuleViolation(
            ReasonCode.LEGAL_HOLD_IN_FORCE,
            "participant_id",
            "A legal hold keeps this person's data: the county's coordinating office decides.",
            "Eine Löschsperre hält die Daten: die Koordinierungsstelle entscheidet.",
        )


def decide_scheduled_erasure(
    participant_id: uuid.UUID, *, status: str, today: date
) -> tuple[Event, ...] | None:
    """The deletion plan's period ran out: erase as for a request, the purpose has ended.

    None: nothing left to erase. Only a registered person was announced to the other
    services, so only then is the erasure announced.
    """
    command = RequestErasure(participant_id=participant_id, reason=ErasureReason.PURPOSE_ENDED)
    return decide_erasure(command, status=status, today=today)


def check_exception_covers(
    command: ApproveEligibilityException, status: str, failed_rules: list[dict[str, object]]
) -> None:
    """An approval must concern a pending registration and waive every rule it failed."""
    if status != PENDING_EXCEPTION:
        raise RuleViolation(
            ReasonCode.NO_EXCEPTION_PENDING,
            "participant_id",
            "No exception is pending for this registration.",
            "Für diese Anmeldung steht keine Ausnahme zur Entscheidung an.",
        )
    needed = {str(rule["rule"]) for rule in failed_rules if rule.get("rule")}
    missing = needed - {str(rule) for rule in command.rules}
    if missing:
        raise RuleViolation(
            ReasonCode.EXCEPTION_DOES_NOT_COVER,
            "rules",
            f"The approval must also waive: {', '.join(sorted(missing))}.",
            f"Die Genehmigung muss auch umfassen: {', '.join(sorted(missing))}.",
        )


def decide_exception_approval(
    command: ApproveEligibilityException,
    *,
    status: str,
    failed_rules: list[dict[str, object]],
    pending_event: dict[str, Any] | None,
    today: date,
) -> tuple[Event, ...]:
    """The approval, then the announcement of the person that waited for it."""
    check_exception_covers(command, status, failed_rules)
    approved = EligibilityExceptionApproved(
        participant_id=command.participant_id,
        rules=command.rules,
        approver=command.approver,
        approved_on=today,
    )
    return approved, ParticipantRegistered.model_validate(pending_event or {})


EXCEPTION_DENIED = PermanentError(
    ReasonCode.ELIGIBILITY_EXCEPTION_DENIED,
    message_en="The county coordinator did not approve the exception.",
    message_de="Die Koordinierung des Kreises hat die Ausnahme nicht genehmigt.",
)
"""The answer to the provider whose registration waited for a denied exception."""


def check_exception_denial(command: DenyEligibilityException, status: str) -> None:
    """A denial must concern a registration waiting for an exception."""
    del command
    if status != PENDING_EXCEPTION:
        raise RuleViolation(
            ReasonCode.NO_EXCEPTION_PENDING,
            "participant_id",
            "No exception is pending for this registration.",
            "Für diese Anmeldung steht keine Ausnahme zur Entscheidung an.",
        )


def review_status(command: ResolveDuplicate) -> str:
    """The duplicate check's new status for a coordinator's decision."""
    return "confirmed" if command.decision is DuplicateDecision.CONFIRMED else "rejected"


def decide_duplicate_resolution(
    command: ResolveDuplicate, *, review_was_open: bool, today: date
) -> tuple[Event, ...]:
    """A decision on an open duplicate check; a confirmed duplicate is announced."""
    if not review_was_open:
        raise RuleViolation(
            ReasonCode.NO_DUPLICATE_REVIEW,
            "duplicate_of",
            "No open duplicate check concerns these two registrations.",
            "Zu diesen beiden Anmeldungen steht keine Dublettenprüfung offen.",
        )
    if command.decision is not DuplicateDecision.CONFIRMED:
        return ()
    return (
        DuplicateConfirmed(
            participant_id=command.participant_id,
            duplicate_of=command.duplicate_of,
            confirmed_on=today,
        ),
    )


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


def level_from_exam(result: ExamResultRecorded, status: str | None) -> dict[str, Any] | None:
    """The German level a DTZ result adds to a registered person's history, if any.

    Nothing for an exam not sat, nor for a person unknown here or erased.
    """
    if result.overall is DtzOverall.DID_NOT_SIT or status != REGISTERED:
        return None
    return dtz_as_cefr(result)
