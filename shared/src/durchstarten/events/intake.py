"""Commands to and events of the intake service."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints

from durchstarten.events.base import Command, Event
from durchstarten.events.values import (
    CefrLevel,
    Municipality,
    ResidenceStatus,
    SchoolEducation,
    Sex,
)

Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


class RegisterParticipant(Command):
    """Register a person with the programme; the only command that carries identifiers."""

    command_type: ClassVar[str] = "register-participant.v1"
    non_identifying_fields: ClassVar[frozenset[str]] = frozenset(
        {
            "sex",
            "country_of_origin",
            "residence_status",
            "municipality",
            "school_education",
            "german_level",
            "entry_date",
        }
    )

    provider_reference: Annotated[str, StringConstraints(min_length=1, max_length=100)] = Field(
        description="The provider's own reference for this person, echoed in the reply."
    )
    given_name: Name
    family_name: Name
    birth_date: date
    sex: Sex
    country_of_origin: CountryCode = Field(description="ISO 3166-1 alpha-3, e.g. SYR.")
    residence_status: ResidenceStatus
    municipality: Municipality
    school_education: SchoolEducation = SchoolEducation.UNKNOWN
    german_level: CefrLevel = Field(description="German level at entry.")
    entry_date: date = Field(description="Day the person entered the programme.")


class ParticipantRegistered(Event):
    """A person entered the programme; pseudonym and coarse attributes only."""

    event_type: ClassVar[str] = "participant.registered.v1"

    participant_id: uuid.UUID = Field(description="Random pseudonym; also the envelope subject.")
    provider: str
    entry_date: date
    age_at_entry: int = Field(ge=0, le=130, description="Whole years; never a birth date.")
    sex: Sex
    country_of_origin: str
    residence_status: ResidenceStatus
    municipality: Municipality
    school_education: SchoolEducation
    german_level: CefrLevel
