"""Eligibility as configuration: programmes and their rules are read from TOML files.

A programme names its validity and the rules a person must meet at entry. Each rule says
whether a county coordinator may waive it ("in justified single cases"). Where a programme
runs is the counties' configuration (`durchstarten.counties`): the person's county must run
it at the entry date. Evaluation is pure: it returns every failed rule, so a rejection can
name them all.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from durchstarten.events.reasons import ReasonCode
from durchstarten.events.values import EligibilityRule, ResidenceStatus

BUILT_IN = Path(__file__).parent / "programmes"


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    waivable: bool = False


class AgeRule(_Rule):
    """Age in whole years at the entry date, inclusive bounds."""

    min: int | None = Field(default=None, ge=0, le=130)
    max: int | None = Field(default=None, ge=0, le=130)


class StatusRule(_Rule):
    """Residence statuses admitted."""

    allowed: frozenset[ResidenceStatus]


class FacilityRule(_Rule):
    """Whether living in a state reception facility excludes a person."""

    excluded: bool = True


class Programme(BaseModel):
    """A programme's identity, validity and eligibility rules (one TOML file)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9-]{1,40}$")
    version: int = Field(ge=1)
    name: str
    valid_from: date
    valid_until: date | None = None
    age: AgeRule | None = None
    residence_status: StatusRule | None = None
    state_reception_facility: FacilityRule | None = None

    def covers(self, day: date) -> bool:
        """True when `day` lies within the programme's validity."""
        return self.valid_from <= day and (self.valid_until is None or day <= self.valid_until)


def load_programmes(directory: Path = BUILT_IN) -> dict[str, Programme]:
    """Every programme file in `directory`, by id."""
    programmes = {}
    for path in sorted(directory.glob("*.toml")):
        programme = Programme.model_validate(tomllib.loads(path.read_text()))
        if programme.id != path.stem:
            msg = f"{path}: the file name must be the programme id {programme.id!r}"
            raise ValueError(msg)
        programmes[programme.id] = programme
    return programmes


@dataclass(frozen=True)
class Applicant:
    """The facts eligibility looks at, as of the entry date."""

    birth_date: date
    entry_date: date
    residence_status: ResidenceStatus
    county_runs_programme: bool
    """Whether the county of the person's municipality runs the programme at entry."""
    lives_in_state_reception_facility: bool


@dataclass(frozen=True)
class FailedRule:
    """One rule a person does not meet, with the field it concerns."""

    reason: ReasonCode
    field: str
    waivable: bool
    rule: EligibilityRule | None
    message_en: str
    message_de: str


def age_on(birth_date: date, day: date) -> int:
    """Age in whole years on `day` (a person born on 29 Feb ages on 1 Mar in common years)."""
    had_birthday = (day.month, day.day) >= (birth_date.month, birth_date.day)
    return day.year - birth_date.year - (0 if had_birthday else 1)


def evaluate(programme: Programme, applicant: Applicant) -> list[FailedRule]:
    """Every rule of `programme` that `applicant` fails (empty: eligible)."""
    failed: list[FailedRule] = []
    if not programme.covers(applicant.entry_date):
        failed.append(
            FailedRule(
                ReasonCode.OUTSIDE_PROGRAMME_VALIDITY,
                "entry_date",
                False,
                None,
                f"The entry date lies outside the programme {programme.name} "
                f"({programme.valid_from} to {programme.valid_until or 'open'}).",
                f"Das Eintrittsdatum liegt außerhalb der Laufzeit von {programme.name}.",
            )
        )
    if programme.age is not None:
        failed += _age(programme.age, age_on(applicant.birth_date, applicant.entry_date))
    rule = programme.residence_status
    if rule is not None and applicant.residence_status not in rule.allowed:
        failed.append(
            FailedRule(
                ReasonCode.RESIDENCE_STATUS_NOT_ELIGIBLE,
                "residence_status.status",
                rule.waivable,
                EligibilityRule.RESIDENCE_STATUS,
                "The programme admits other residence statuses.",
                "Das Programm richtet sich an Personen mit anderem Aufenthaltsstatus.",
            )
        )
    if not applicant.county_runs_programme:
        failed.append(
            FailedRule(
                ReasonCode.MUNICIPALITY_NOT_COVERED,
                "municipality",
                False,
                EligibilityRule.MUNICIPALITY,
                f"The person's county does not run {programme.name} at the entry date.",
                f"Der Kreis der Person führt {programme.name} zum Eintrittsdatum nicht durch.",
            )
        )
    facility = programme.state_reception_facility
    if facility is not None and facility.excluded and applicant.lives_in_state_reception_facility:
        failed.append(
            FailedRule(
                ReasonCode.LIVES_IN_STATE_RECEPTION_FACILITY,
                "lives_in_state_reception_facility",
                facility.waivable,
                None,
                "Persons living in a state reception facility are excluded.",
                "Personen in einer Landeseinrichtung sind ausgeschlossen.",
            )
        )
    return failed


def _age(rule: AgeRule, age: int) -> list[FailedRule]:
    if rule.min is not None and age < rule.min:
        return [
            FailedRule(
                ReasonCode.AGE_BELOW_MINIMUM,
                "birth_date",
                rule.waivable,
                EligibilityRule.AGE,
                f"The person is {age} at entry; the programme starts at {rule.min}.",
                f"Die Person ist bei Eintritt {age}; das Programm beginnt mit {rule.min}.",
            )
        ]
    if rule.max is not None and age > rule.max:
        return [
            FailedRule(
                ReasonCode.AGE_ABOVE_MAXIMUM,
                "birth_date",
                rule.waivable,
                EligibilityRule.AGE,
                f"The person is {age} at entry; the programme ends at {rule.max}.",
                f"Die Person ist bei Eintritt {age}; das Programm endet mit {rule.max}.",
            )
        ]
    return []


def choose_programme(
    programmes: dict[str, Programme], active: list[str], requested: str | None, entry: date
) -> Programme | None:
    """The programme a registration is checked against.

    The one the command names, else the first active programme whose validity covers the
    entry date, else the first active one (whose validity check will then fail, naming it).
    None when the command names a programme this deployment does not run.
    """
    if requested is not None:
        return programmes.get(requested) if requested in active else None
    candidates = [programmes[p] for p in active if p in programmes]
    for programme in candidates:
        if programme.covers(entry):
            return programme
    return candidates[0] if candidates else None
