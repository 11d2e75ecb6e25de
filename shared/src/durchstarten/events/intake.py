"""Commands to and events of the intake service.

Intake is the only service that sees personal identifiers; its events carry the pseudonym
and coarse attributes only (age at entry in whole years, never a birth date or a name).
"""

from __future__ import annotations

import uuid
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from durchstarten.events.base import Command, Event
from durchstarten.events.parts import (
    Consent,
    ConsentFact,
    ConsentOverrideFact,
    GermanLevel,
    GermanLevelFact,
    ResidenceStatusFact,
    ResidenceStatusRecord,
)
from durchstarten.events.values import (
    CefrLevel,
    ConsentScope,
    CountryCode,
    CountyKey,
    DomainDate,
    EligibilityRule,
    ErasureReason,
    ExitReason,
    LanguageCode,
    LegalBasis,
    Municipality,
    MunicipalityKey,
    PersonName,
    ProviderId,
    Reference,
    ResidenceStatus,
    SchoolEducation,
    Sex,
    StaffId,
)

ProgrammeId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9-]{1,40}$")]
PhoneNumber = Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()/-]{5,30}$")]

_PARTICIPANT = "6f1c1a52-8d1b-4a8e-9a55-0f1d64c3c0de"
_COARSE_REGISTRATION_FIELDS = frozenset(
    {
        "sex",
        "country_of_origin",
        "residence_status",
        "municipality",
        "lives_in_state_reception_facility",
        "employment_ban",
        "school_education",
        "german_level",
        "languages",
        "consent",
        "entry_date",
    }
)


def _entry_after_birth(entry_date: date, info: ValidationInfo) -> date:
    """Validator of `entry_date`, so a rejection names that field."""
    birth_date = info.data.get("birth_date")
    if birth_date is not None and entry_date < birth_date:
        msg = "the entry date lies before the birth date"
        raise ValueError(msg)
    return entry_date


# --- commands ---------------------------------------------------------------------------------


class RegisterParticipant(Command):
    """Register a person with the programme; the only command that carries identifiers."""

    command_type: ClassVar[str] = "register-participant.v3"
    non_identifying_fields: ClassVar[frozenset[str] | None] = _COARSE_REGISTRATION_FIELDS

    provider_reference: Reference = Field(
        description="The provider's own reference for this person, echoed in the reply."
    )
    given_name: PersonName
    family_name: PersonName
    birth_date: DomainDate = Field(
        description="As in the documents; 1 January of the year where only the year is known."
    )
    phone: PhoneNumber | None = None
    email: EmailStr | None = None
    sex: Sex
    country_of_origin: CountryCode
    residence_status: ResidenceStatusRecord
    municipality: MunicipalityKey = Field(
        description="Where the person lives: the municipality's official key (AGS), which"
        " must lie in a county the provider works in."
    )
    lives_in_state_reception_facility: bool = Field(
        default=False, description="Living in a state reception facility (Landeseinrichtung)."
    )
    employment_ban: bool = Field(
        default=False, description="Under a legal ban on employment (Beschäftigungsverbot)."
    )
    school_education: SchoolEducation = SchoolEducation.UNKNOWN
    german_level: GermanLevel = Field(description="German level at entry, per skill if tested.")
    languages: list[LanguageCode] = Field(
        default_factory=list, max_length=10, description="Languages the person speaks."
    )
    consent: Consent | None = None
    entry_date: DomainDate = Field(description="Day the person entered the programme.")
    programme: ProgrammeId | None = Field(
        default=None,
        description="Programme to register for; by default the one running at the entry date.",
    )

    example: ClassVar[dict[str, Any]] = {
        "provider_reference": "DIA-2022-0042",
        "given_name": "Amina",
        "family_name": "Haddad",
        "birth_date": "2001-05-04",
        "sex": "female",
        "country_of_origin": "SYR",
        "residence_status": {
            "status": "duldung",
            "legal_basis": "aufenthg-60a",
            "since": "2019-11-02",
        },
        "municipality": "05758012",
        "school_education": "primary",
        "german_level": {"overall": "A2", "speaking": "A2", "writing": "A1"},
        "languages": ["ar", "ku"],
        "consent": {"scopes": ["data-sharing-between-providers"], "given_on": "2022-03-01"},
        "entry_date": "2022-03-01",
    }

    _entry_date_check = field_validator("entry_date")(_entry_after_birth)


# Version 2 of the registration: the municipality by its Herford name. Still accepted;
# intake upcasts it to the current version at its edge (the name becomes its official key).
# Its docstring and title stay as they were published: they are part of its schema.
class RegisterParticipantV2(Command):
    """Register a person with the programme; the only command that carries identifiers."""

    model_config = ConfigDict(title="RegisterParticipant")

    command_type: ClassVar[str] = "register-participant.v2"
    non_identifying_fields: ClassVar[frozenset[str] | None] = _COARSE_REGISTRATION_FIELDS

    provider_reference: Reference = Field(
        description="The provider's own reference for this person, echoed in the reply."
    )
    given_name: PersonName
    family_name: PersonName
    birth_date: DomainDate = Field(
        description="As in the documents; 1 January of the year where only the year is known."
    )
    phone: PhoneNumber | None = None
    email: EmailStr | None = None
    sex: Sex
    country_of_origin: CountryCode
    residence_status: ResidenceStatusRecord
    municipality: Municipality
    lives_in_state_reception_facility: bool = Field(
        default=False, description="Living in a state reception facility (Landeseinrichtung)."
    )
    employment_ban: bool = Field(
        default=False, description="Under a legal ban on employment (Beschäftigungsverbot)."
    )
    school_education: SchoolEducation = SchoolEducation.UNKNOWN
    german_level: GermanLevel = Field(description="German level at entry, per skill if tested.")
    languages: list[LanguageCode] = Field(
        default_factory=list, max_length=10, description="Languages the person speaks."
    )
    consent: Consent | None = None
    entry_date: DomainDate = Field(description="Day the person entered the programme.")
    programme: ProgrammeId | None = Field(
        default=None,
        description="Programme to register for; by default the one running at the entry date.",
    )

    example: ClassVar[dict[str, Any]] = {
        "provider_reference": "DIA-2022-0042",
        "given_name": "Amina",
        "family_name": "Haddad",
        "birth_date": "2001-05-04",
        "sex": "female",
        "country_of_origin": "SYR",
        "residence_status": {
            "status": "duldung",
            "legal_basis": "aufenthg-60a",
            "since": "2019-11-02",
        },
        "municipality": "herford",
        "school_education": "primary",
        "german_level": {"overall": "A2", "speaking": "A2", "writing": "A1"},
        "languages": ["ar", "ku"],
        "consent": {"scopes": ["data-sharing-between-providers"], "given_on": "2022-03-01"},
        "entry_date": "2022-03-01",
    }

    _entry_date_check = field_validator("entry_date")(_entry_after_birth)


class RegisterParticipantV1(Command):
    """Version 1 of the registration: one overall German level, a bare residence status.

    Still accepted; intake upcasts it to the current version at its edge.
    """

    command_type: ClassVar[str] = "register-participant.v1"
    non_identifying_fields: ClassVar[frozenset[str] | None] = _COARSE_REGISTRATION_FIELDS

    provider_reference: Reference
    given_name: PersonName
    family_name: PersonName
    birth_date: DomainDate
    sex: Sex
    country_of_origin: CountryCode
    residence_status: ResidenceStatus
    municipality: Municipality
    school_education: SchoolEducation = SchoolEducation.UNKNOWN
    german_level: CefrLevel = Field(description="German level at entry, overall.")
    entry_date: DomainDate

    example: ClassVar[dict[str, Any]] = {
        "provider_reference": "DIA-2021-0007",
        "given_name": "Yusuf",
        "family_name": "Ahmadi",
        "birth_date": "2000-01-01",
        "sex": "male",
        "country_of_origin": "AFG",
        "residence_status": "gestattung",
        "municipality": "buende",
        "german_level": "A1",
        "entry_date": "2021-06-14",
    }

    _entry_date_check = field_validator("entry_date")(_entry_after_birth)


class RecordResidenceStatusChange(Command):
    """Record that a participant's residence status changed (kept as a dated history)."""

    command_type: ClassVar[str] = "record-residence-status-change.v1"

    participant_id: uuid.UUID
    status: ResidenceStatus
    legal_basis: LegalBasis
    since: DomainDate

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "status": "ausbildungsduldung",
        "legal_basis": "aufenthg-60c",
        "since": "2022-08-01",
    }

    @model_validator(mode="after")
    def _basis_fits_status(self) -> Self:
        ResidenceStatusRecord(status=self.status, legal_basis=self.legal_basis, since=self.since)
        return self


class RecordProgrammeExit(Command):
    """Record that a participant left the programme."""

    command_type: ClassVar[str] = "record-programme-exit.v1"

    participant_id: uuid.UUID
    exit_date: DomainDate
    reason: ExitReason

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "exit_date": "2022-12-31",
        "reason": "placed",
    }


class RequestErasure(Command):
    """Erase a participant's personal data (GDPR Art. 17); aggregates already frozen stay."""

    command_type: ClassVar[str] = "request-erasure.v1"

    participant_id: uuid.UUID
    reason: ErasureReason

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "reason": "participant-request",
    }


class CorrectIdentity(Command):
    """Correct what intake holds of a person (GDPR Art. 16), with the reason recorded.

    Names, birth date and contact details stay in intake; a correction of what reports
    count (the birth date, hence the age at entry; sex; country of origin) is announced.
    The duplicate check runs again on the corrected names and birth date.
    """

    command_type: ClassVar[str] = "correct-identity.v1"
    non_identifying_fields: ClassVar[frozenset[str] | None] = frozenset(
        {"participant_id", "sex", "country_of_origin"}
    )

    participant_id: uuid.UUID
    given_name: PersonName | None = None
    family_name: PersonName | None = None
    birth_date: DomainDate | None = None
    phone: PhoneNumber | None = None
    email: EmailStr | None = None
    sex: Sex | None = None
    country_of_origin: CountryCode | None = None
    reason: Annotated[str, StringConstraints(min_length=10, max_length=1000)] = Field(
        description="Why (e.g. the passport shows another birth date); stays in intake."
    )

    CORRECTABLE: ClassVar[tuple[str, ...]] = (
        "given_name",
        "family_name",
        "birth_date",
        "phone",
        "email",
        "sex",
        "country_of_origin",
    )

    @model_validator(mode="after")
    def _corrects_something(self) -> Self:
        if all(getattr(self, name) is None for name in self.CORRECTABLE):
            msg = f"name at least one field to correct: {', '.join(self.CORRECTABLE)}"
            raise ValueError(msg)
        return self

    def corrections(self) -> dict[str, Any]:
        """The corrected fields and their new values, as the vault stores them."""
        found = {name: getattr(self, name) for name in self.CORRECTABLE}
        return {
            name: value.isoformat() if isinstance(value, date) else str(value)
            for name, value in found.items()
            if value is not None
        }

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "birth_date": "2001-05-14",
        "reason": "The passport shows the 14th; the registration had the 4th.",
    }


class RecordConsent(Command):
    """Record what the person consented to (replaces the consent held): scopes and expiry."""

    command_type: ClassVar[str] = "record-consent.v1"

    participant_id: uuid.UUID
    consent: Consent

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "consent": {
            "scopes": ["data-sharing-between-providers"],
            "given_on": "2022-04-01",
            "expires_on": "2023-03-31",
        },
    }


class WithdrawConsent(Command):
    """The person withdraws consent: without data sharing, other providers lose access."""

    command_type: ClassVar[str] = "withdraw-consent.v1"

    participant_id: uuid.UUID
    scopes: list[ConsentScope] = Field(min_length=1, max_length=len(ConsentScope))
    withdrawn_on: DomainDate

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "scopes": ["data-sharing-between-providers"],
        "withdrawn_on": "2022-09-01",
    }


class OverrideConsent(Command):
    """Break-glass: a county coordinator lets a provider work with the person without consent.

    Time-limited (at most 30 days), with a recorded reason, audited and listed for review.
    """

    command_type: ClassVar[str] = "override-consent.v1"

    participant_id: uuid.UUID
    provider: ProviderId
    until: DomainDate = Field(description="The last day of the override (at most 30 days).")
    reason: Annotated[str, StringConstraints(min_length=10, max_length=1000)] = Field(
        description="Why it cannot wait for consent; stays in intake, never in an event."
    )
    decided_by: StaffId

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "provider": "awo-owl",
        "until": "2022-10-15",
        "reason": "Training place starts Monday; the person cannot be reached to sign.",
        "decided_by": "ki-koordination-03",
    }


class ApproveEligibilityException(Command):
    """A county coordinator admits a person outside a rule, "in a justified single case"."""

    command_type: ClassVar[str] = "approve-eligibility-exception.v1"

    participant_id: uuid.UUID
    rules: list[EligibilityRule] = Field(min_length=1, max_length=len(EligibilityRule))
    reason: Annotated[str, StringConstraints(min_length=10, max_length=1000)] = Field(
        description="The recorded justification; stays in intake, never in an event."
    )
    approver: StaffId

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "rules": ["age"],
        "reason": "Turned 28 two weeks before entry; coaching had started informally.",
        "approver": "ki-koordination-03",
    }


class DenyEligibilityException(Command):
    """A county coordinator refuses an exception: the pending registration ends."""

    command_type: ClassVar[str] = "deny-eligibility-exception.v1"

    participant_id: uuid.UUID
    reason: Annotated[str, StringConstraints(min_length=10, max_length=1000)]
    approver: StaffId

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "reason": "Lives outside the target group; referred to the migration counselling.",
        "approver": "ki-koordination-03",
    }


class DuplicateDecision(StrEnum):
    """A coordinator's decision on a possible duplicate."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class ResolveDuplicate(Command):
    """A county coordinator decides whether two registrations are the same person."""

    command_type: ClassVar[str] = "resolve-duplicate.v1"

    participant_id: uuid.UUID = Field(description="The later registration, flagged on entry.")
    duplicate_of: uuid.UUID = Field(description="The earlier registration it resembles.")
    decision: DuplicateDecision
    decided_by: StaffId

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "duplicate_of": "9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "decision": "confirmed",
        "decided_by": "ki-koordination-03",
    }


# --- events -----------------------------------------------------------------------------------


class ParticipantRegistered(Event):
    """A person entered the programme; pseudonym and coarse attributes only."""

    event_type: ClassVar[str] = "participant.registered.v3"

    participant_id: uuid.UUID = Field(description="Random pseudonym; also the envelope subject.")
    provider: ProviderId
    entry_date: DomainDate
    age_at_entry: int = Field(ge=0, le=130, description="Whole years; never a birth date.")
    sex: Sex
    country_of_origin: CountryCode
    residence_status: ResidenceStatusFact
    municipality: MunicipalityKey = Field(description="Official key (AGS) of the municipality.")
    county: CountyKey = Field(description="Official key of the county the person lives in.")
    school_education: SchoolEducation
    german_level_at_entry: GermanLevelFact
    languages: list[LanguageCode] = Field(default_factory=list)
    eligibility_exception: bool = Field(
        default=False, description="Admitted under an approved exception to a rule."
    )
    employment_ban: bool = Field(
        default=False, description="Under a legal ban on employment (excludes module F2)."
    )
    consent: ConsentFact | None = Field(
        default=None,
        description="What the person consented to at registration (none: nothing recorded).",
    )

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "provider": "diakonie-herford",
        "entry_date": "2022-03-01",
        "age_at_entry": 20,
        "sex": "female",
        "country_of_origin": "SYR",
        "residence_status": {
            "status": "duldung",
            "legal_basis": "aufenthg-60a",
            "since": "2019-11-02",
        },
        "municipality": "05758012",
        "county": "05758",
        "school_education": "primary",
        "german_level_at_entry": {"overall": "A2", "speaking": "A2", "writing": "A1"},
        "languages": ["ar", "ku"],
        "eligibility_exception": False,
        "consent": {"scopes": ["data-sharing-between-providers"], "given_on": "2022-03-01"},
    }


# Version 2: the municipality by its Herford name, no county. Docstring and title as
# published (they are part of its schema).
class ParticipantRegisteredV2(Event):
    """A person entered the programme; pseudonym and coarse attributes only."""

    model_config = ConfigDict(title="ParticipantRegistered")

    event_type: ClassVar[str] = "participant.registered.v2"

    participant_id: uuid.UUID = Field(description="Random pseudonym; also the envelope subject.")
    provider: ProviderId
    entry_date: DomainDate
    age_at_entry: int = Field(ge=0, le=130, description="Whole years; never a birth date.")
    sex: Sex
    country_of_origin: CountryCode
    residence_status: ResidenceStatusFact
    municipality: Municipality
    school_education: SchoolEducation
    german_level_at_entry: GermanLevelFact
    languages: list[LanguageCode] = Field(default_factory=list)
    eligibility_exception: bool = Field(
        default=False, description="Admitted under an approved exception to a rule."
    )
    employment_ban: bool = Field(
        default=False, description="Under a legal ban on employment (excludes module F2)."
    )
    consent: ConsentFact | None = Field(
        default=None,
        description="What the person consented to at registration (none: nothing recorded).",
    )

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "provider": "diakonie-herford",
        "entry_date": "2022-03-01",
        "age_at_entry": 20,
        "sex": "female",
        "country_of_origin": "SYR",
        "residence_status": {
            "status": "duldung",
            "legal_basis": "aufenthg-60a",
            "since": "2019-11-02",
        },
        "municipality": "herford",
        "school_education": "primary",
        "german_level_at_entry": {"overall": "A2", "speaking": "A2", "writing": "A1"},
        "languages": ["ar", "ku"],
        "eligibility_exception": False,
        "consent": {"scopes": ["data-sharing-between-providers"], "given_on": "2022-03-01"},
    }


class ParticipantRegisteredV1(Event):
    """Version 1: one overall German level and a bare residence status."""

    event_type: ClassVar[str] = "participant.registered.v1"

    participant_id: uuid.UUID
    provider: ProviderId
    entry_date: DomainDate
    age_at_entry: int = Field(ge=0, le=130)
    sex: Sex
    country_of_origin: CountryCode
    residence_status: ResidenceStatus
    municipality: Municipality
    school_education: SchoolEducation
    german_level: CefrLevel

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "provider": "in-via",
        "entry_date": "2021-06-14",
        "age_at_entry": 21,
        "sex": "male",
        "country_of_origin": "AFG",
        "residence_status": "gestattung",
        "municipality": "buende",
        "school_education": "unknown",
        "german_level": "A1",
    }


class ResidenceStatusChanged(Event):
    """A participant's residence status changed; eligibility was checked again."""

    event_type: ClassVar[str] = "participant.residence-status-changed.v1"

    participant_id: uuid.UUID
    residence_status: ResidenceStatusFact
    programme_eligible: bool | None = Field(
        default=None, description="Whether the new status meets the programme's status rule."
    )

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "residence_status": {
            "status": "ausbildungsduldung",
            "legal_basis": "aufenthg-60c",
            "since": "2022-08-01",
        },
    }


class ParticipantExited(Event):
    """A participant left the programme."""

    event_type: ClassVar[str] = "participant.exited.v1"

    participant_id: uuid.UUID
    provider: ProviderId
    exit_date: DomainDate
    reason: ExitReason

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "provider": "diakonie-herford",
        "exit_date": "2022-12-31",
        "reason": "placed",
    }


class ParticipantErased(Event):
    """A participant's personal data was erased; every service removes person-level rows."""

    event_type: ClassVar[str] = "participant.erased.v1"

    participant_id: uuid.UUID
    erased_on: DomainDate
    reason: ErasureReason

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "erased_on": "2023-07-01",
        "reason": "purpose-ended",
    }


class ParticipantCorrected(Event):
    """What reports count of a person was corrected (Art. 16): the values that now hold.

    Carries all three reported attributes, corrected or not, so the latest event of a
    person alone says what is right.
    """

    event_type: ClassVar[str] = "participant.corrected.v1"

    participant_id: uuid.UUID
    corrected_on: DomainDate
    age_at_entry: int = Field(ge=0, le=120)
    sex: Sex
    country_of_origin: CountryCode

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "corrected_on": "2023-02-01",
        "age_at_entry": 20,
        "sex": "female",
        "country_of_origin": "SYR",
    }


class ConsentChanged(Event):
    """The person's consent, or a coordinator's override, changed: what holds now.

    Services keep other providers' access only while data sharing is consented to (and not
    expired), or a provider's override lasts; the registering provider always keeps it.
    """

    event_type: ClassVar[str] = "participant.consent-changed.v1"

    participant_id: uuid.UUID
    registered_by: ProviderId
    changed_on: DomainDate
    consent: ConsentFact | None = Field(description="The consent in force; none: none given.")
    overrides: list[ConsentOverrideFact] = Field(default_factory=list)

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "registered_by": "diakonie-herford",
        "changed_on": "2022-09-01",
        "consent": {"scopes": ["follow-up-contact"], "given_on": "2022-03-01"},
        "overrides": [],
    }

    def keeps_only(self) -> list[str] | None:
        """Who keeps access: None while data sharing holds on `changed_on` (everyone).

        Otherwise the registering provider and those an override still lets in.
        """
        day = self.changed_on
        if self.consent is not None and self.consent.covers(
            ConsentScope.DATA_SHARING_BETWEEN_PROVIDERS, day
        ):
            return None
        return [self.registered_by, *(o.provider for o in self.overrides if day <= o.until)]

    def shares_with(self, provider: str, day: date) -> bool:
        """Whether `provider` may work with the person on `day` by this event's terms."""
        if provider == self.registered_by:
            return True
        if self.consent is not None and self.consent.covers(
            ConsentScope.DATA_SHARING_BETWEEN_PROVIDERS, day
        ):
            return True
        return any(o.provider == provider and day <= o.until for o in self.overrides)


class ProviderAssigned(Event):
    """Another provider may now work with a participant (it registered the same person)."""

    event_type: ClassVar[str] = "participant.provider-assigned.v1"

    participant_id: uuid.UUID
    provider: ProviderId
    assigned_on: DomainDate

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "provider": "in-via",
        "assigned_on": "2022-03-05",
    }


class ParticipantMoved(Event):
    """A participant moved to another county and goes on there: one person statewide.

    The county left counts an exit on `moved_on`, the county entered an entry; the state
    counts neither (the person stays in the programme). Announced when a provider of the
    new county registers a person found to be already registered elsewhere.
    """

    event_type: ClassVar[str] = "participant.moved.v1"

    participant_id: uuid.UUID
    provider: ProviderId = Field(description="The provider that registered the person there.")
    from_county: CountyKey
    to_county: CountyKey
    municipality: MunicipalityKey = Field(description="The municipality moved to.")
    moved_on: DomainDate = Field(description="The entry date of the new registration.")

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "provider": "in-via",
        "from_county": "05758",
        "to_county": "05711",
        "municipality": "05711000",
        "moved_on": "2022-09-01",
    }


class DuplicateConfirmed(Event):
    """Two registrations were the same person: `participant_id` now counts as `duplicate_of`."""

    event_type: ClassVar[str] = "participant.duplicate-confirmed.v1"

    participant_id: uuid.UUID
    duplicate_of: uuid.UUID
    confirmed_on: DomainDate

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "duplicate_of": "9a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
        "confirmed_on": "2022-03-04",
    }


class EligibilityExceptionApproved(Event):
    """A coordinator approved an exception to eligibility rules (the reason stays in intake)."""

    event_type: ClassVar[str] = "participant.eligibility-exception-approved.v1"

    participant_id: uuid.UUID
    rules: list[EligibilityRule]
    approver: StaffId
    approved_on: DomainDate

    example: ClassVar[dict[str, Any]] = {
        "participant_id": _PARTICIPANT,
        "rules": ["age"],
        "approver": "ki-koordination-03",
        "approved_on": "2022-03-03",
    }
