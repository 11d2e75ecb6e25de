"""Composite value objects used inside several commands and events."""

from __future__ import annotations

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


class Consent(Part):
    """What the participant consented to, and when."""

    scopes: list[ConsentScope] = Field(max_length=len(ConsentScope))
    given_on: DomainDate


class Employment(Part):
    """For a placement into work: insured or marginal."""

    kind: EmploymentKind


def check_employment(category: PlacementCategory, employment: object | None) -> None:
    """A placement names its employment kind if and only if it is a placement into work."""
    if (category == PlacementCategory.EMPLOYMENT) != (employment is not None):
        msg = "employment (insured or marginal) is given exactly for placements into employment"
        raise ValueError(msg)
