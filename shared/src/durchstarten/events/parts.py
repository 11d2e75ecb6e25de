"""Composite value objects used inside several commands and events."""

from __future__ import annotations

from datetime import date
from typing import Self

from pydantic import Field, model_validator

from durchstarten.events.base import Part, TolerantPart
from durchstarten.events.values import (
    ALLOWED_LEGAL_BASES,
    CefrLevel,
    ConsentScope,
    DomainDate,
    EmploymentKind,
    LegalBasis,
    PlacementCategory,
    ProviderId,
    ResidenceStatus,
)


class ResidenceStatusRecord(Part):
    """A residence status with its legal basis and the day it applies from."""

    status: ResidenceStatus
    legal_basis: LegalBasis
    since: DomainDate | None = Field(default=None, description="Day the status applies from.")

    @model_validator(mode="after")
    def _basis_fits_status(self) -> Self:
        allowed = ALLOWED_LEGAL_BASES.get(self.status)
        if allowed is not None and self.legal_basis not in allowed:
            msg = f"legal basis {self.legal_basis} does not fit status {self.status}"
            raise ValueError(msg)
        return self


class ResidenceStatusFact(TolerantPart):
    """The residence status as events carry it (read tolerantly)."""

    status: ResidenceStatus
    legal_basis: LegalBasis
    since: DomainDate | None = None


class GermanLevel(Part):
    """German level overall and, where tested, per skill."""

    overall: CefrLevel
    listening: CefrLevel | None = None
    reading: CefrLevel | None = None
    writing: CefrLevel | None = None
    speaking: CefrLevel | None = None


class GermanLevelFact(TolerantPart):
    """German level as events carry it (read tolerantly)."""

    overall: CefrLevel
    listening: CefrLevel | None = None
    reading: CefrLevel | None = None
    writing: CefrLevel | None = None
    speaking: CefrLevel | None = None


def _covers(
    scopes: list[ConsentScope],
    given_on: date,
    expires_on: date | None,
    scope: ConsentScope,
    day: date,
) -> bool:
    return scope in scopes and given_on <= day and (expires_on is None or day <= expires_on)


class Consent(Part):
    """What the participant consented to, when, and until when (none: until withdrawn)."""

    scopes: list[ConsentScope] = Field(max_length=len(ConsentScope))
    given_on: DomainDate
    expires_on: DomainDate | None = Field(
        default=None, description="The last day the consent holds; none: until withdrawn."
    )

    @model_validator(mode="after")
    def _expires_after_given(self) -> Self:
        if self.expires_on is not None and self.expires_on < self.given_on:
            msg = "a consent cannot expire before it was given"
            raise ValueError(msg)
        return self

    def covers(self, scope: ConsentScope, day: date) -> bool:
        """Whether `scope` was consented to and holds on `day`."""
        return _covers(self.scopes, self.given_on, self.expires_on, scope, day)


class ConsentFact(TolerantPart):
    """A consent as events announce it (read tolerantly)."""

    scopes: list[ConsentScope]
    given_on: DomainDate
    expires_on: DomainDate | None = None

    def covers(self, scope: ConsentScope, day: date) -> bool:
        """Whether `scope` was consented to and holds on `day`."""
        return _covers(self.scopes, self.given_on, self.expires_on, scope, day)


class ConsentOverrideFact(TolerantPart):
    """A coordinator's break-glass override: `provider` may work with the person until a day."""

    provider: ProviderId
    until: DomainDate


class Employment(Part):
    """For a placement into work: insured or marginal."""

    kind: EmploymentKind


def check_employment(category: PlacementCategory, employment: object | None) -> None:
    """A placement names its employment kind if and only if it is a placement into work."""
    if (category == PlacementCategory.EMPLOYMENT) != (employment is not None):
        msg = "employment (insured or marginal) is given exactly for placements into employment"
        raise ValueError(msg)
