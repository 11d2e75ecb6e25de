"""Intake's pure rules: what each command means for a registration, as events.

No I/O here: the handlers load the state, supply pseudonyms, dates and the programme, and
persist what these functions decide.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Literal

from durchstarten.domain import RuleViolation as BaseRuleViolation
from durchstarten.events import ParticipantRegistered, RegisterParticipant
from durchstarten.events.intake import (
    ApproveEligibilityException,
    ParticipantErased,
    ParticipantExited,
    RecordProgrammeExit,
    RecordResidenceStatusChange,
    RequestErasure,
    ResidenceStatusChanged,
)
from durchstarten.events.parts import GermanLevelFact, ResidenceStatusFact
from durchstarten.events.reasons import ReasonCode
from intake.eligibility import Applicant, FailedRule, Programme, age_on, evaluate

MAX_PLAUSIBLE_AGE = 100

REGISTERED = "registered"
PENDING_EXCEPTION = "pending-exception"
DENIED = "denied"
ERASED = "erased"


@dataclass(frozen=True)
class RuleViolation(BaseRuleViolation):
    """A rule violation that may name every eligibility rule that failed."""

    failed_rules: tuple[FailedRule, ...] = ()


@dataclass(frozen=True)
class Registration:
    """A registration's outcome: registered now, or waiting for an exception."""

    status: Literal["registered", "pending-exception"]
    event: ParticipantRegistered
    waivable_failures: tuple[FailedRule, ...]


def decide_registration(
    command: RegisterParticipant,
    *,
    provider: str,
    participant_id: uuid.UUID,
    programme: Programme | None,
) -> Registration:
    """Check the dates and the programme's rules; build the event that announces the person.

    Failures a coordinator may waive make the registration wait for an exception; any other
    failure rejects it, naming every rule that failed.
    """
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
            municipality=command.municipality,
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
            tuple(failures),
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
        school_education=command.school_education,
        german_level_at_entry=GermanLevelFact.model_validate(command.german_level.model_dump()),
        languages=command.languages,
        eligibility_exception=bool(failures),
        employment_ban=command.employment_ban,
    )
    return Registration(
        status="pending-exception" if failures else "registered",
        event=event,
        waivable_failures=tuple(failures),
    )


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
        raise RuleViolation(
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


def decide_erasure(command: RequestErasure, *, today: date) -> ParticipantErased:
    """Erasure is always possible for a known participant; aggregates frozen earlier stay."""
    return ParticipantErased(
        participant_id=command.participant_id, erased_on=today, reason=command.reason
    )


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
