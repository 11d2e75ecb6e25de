"""Intake's pure rules: turning a registration command into the event that announces it.

No I/O here: the handler supplies the pseudonym and persists what this decides.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from durchstarten.events import ParticipantRegistered, RegisterParticipant
from durchstarten.events.parts import GermanLevelFact, ResidenceStatusFact
from durchstarten.events.reasons import ReasonCode

MAX_PLAUSIBLE_AGE = 100


@dataclass(frozen=True)
class RuleViolation(Exception):
    """A valid command the programme's rules do not allow; answered with a rejection."""

    reason: ReasonCode
    field: str | None
    message_en: str
    message_de: str


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on `day` (a person born on 29 Feb ages on 1 Mar in common years)."""
    had_birthday = (day.month, day.day) >= (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (0 if had_birthday else 1)


def decide_registration(
    command: RegisterParticipant, *, provider: str, participant_id: uuid.UUID
) -> ParticipantRegistered:
    """The event a registration produces, or RuleViolation when the dates cannot be right."""
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
    return ParticipantRegistered(
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
    )
