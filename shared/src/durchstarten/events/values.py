"""Value types shared by every command and event: one exact definition each (DOMAIN.md).

Enumerations are closed sets with stable, lower-case wire values; bounded primitives carry
their limits, so every field of every command has bounds a rejection can name.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Annotated

from pydantic import Field, StringConstraints

# --- bounded primitives -------------------------------------------------------------------

EARLIEST_DATE = date(1950, 1, 1)
LATEST_DATE = date(2100, 12, 31)

DomainDate = Annotated[
    date,
    Field(ge=EARLIEST_DATE, le=LATEST_DATE, description="A calendar date (no time), 1950-2100."),
]
ProviderId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"),
    Field(description="Provider id, a lower-case slug, e.g. `diakonie-herford`."),
]
SiteId = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$"),
    Field(description="Site of a provider, a lower-case slug, e.g. `buende`."),
]
StaffId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,64}$"),
    Field(description="Pseudonymous staff id (never a name)."),
]
Reference = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$"),
    Field(description="An id from the provider's own system: printable ASCII, no spaces."),
]
PersonName = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, strip_whitespace=True),
    Field(description="A name as written in the person's documents."),
]
CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="ISO 3166-1 alpha-3 country code, e.g. `SYR`; `XXA` stateless."),
]
LanguageCode = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z]{2,3}$"),
    Field(description="ISO 639-1 or 639-3 language code, e.g. `ar`, `prs`."),
]
CountyKey = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{5}$"),
    Field(description="Official key of a Kreis or kreisfreie Stadt (5 digits), e.g. `05758`."),
]
MunicipalityKey = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{8}$"),
    Field(
        description="Amtlicher Gemeindeschlüssel (AGS, 8 digits) of a municipality, e.g."
        " `05758012`; its first five digits are the county's key."
    ),
]
Minutes = Annotated[int, Field(ge=1, le=600, description="Duration in minutes (1-600).")]
TeachingUnits = Annotated[
    int, Field(ge=1, le=2000, description="Teaching units (UE, 45 minutes each).")
]
Cents = Annotated[int, Field(ge=0, le=100_000_000_00, description="An amount in euro cents.")]


# --- enumerations ----------------------------------------------------------------------------


class CefrLevel(StrEnum):
    """Common European Framework of Reference level (German: GER); `none` before A1."""

    NONE = "none"
    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"


class ModuleCode(StrEnum):
    """The programme's six modules (Förderbausteine)."""

    F1 = "F1"  # Coaching
    F2 = "F2"  # Berufsbegleitende Qualifizierung und/oder Sprachförderung
    F3 = "F3"  # Nachträglicher Erwerb des Hauptschulabschlusses
    F4 = "F4"  # Schul-, ausbildungs- und berufsvorbereitende Kurse, Jugendintegrationskurse
    F5 = "F5"  # Innovationsfonds (not recorded per participant)
    F6 = "F6"  # Teilhabemanagement


class Sex(StrEnum):
    """Sex as recorded in the state's monitoring, with the third option of German civil law."""

    FEMALE = "female"
    MALE = "male"
    DIVERSE = "diverse"
    NOT_STATED = "not-stated"


class ResidenceStatus(StrEnum):
    """Residence status; the programme's target group is Duldung or Gestattung."""

    DULDUNG = "duldung"
    AUSBILDUNGSDULDUNG = "ausbildungsduldung"
    BESCHAEFTIGUNGSDULDUNG = "beschaeftigungsduldung"
    GESTATTUNG = "gestattung"
    AUFENTHALTSERLAUBNIS = "aufenthaltserlaubnis"
    CHANCEN_AUFENTHALTSRECHT = "chancen-aufenthaltsrecht"
    NIEDERLASSUNGSERLAUBNIS = "niederlassungserlaubnis"
    OTHER = "other"


class LegalBasis(StrEnum):
    """The norm a residence status rests on."""

    AUFENTHG_60A = "aufenthg-60a"  # Duldung
    AUFENTHG_60B = "aufenthg-60b"  # Duldung for persons with unresolved identity
    AUFENTHG_60C = "aufenthg-60c"  # Ausbildungsduldung
    AUFENTHG_60D = "aufenthg-60d"  # Beschäftigungsduldung
    ASYLG_55 = "asylg-55"  # Aufenthaltsgestattung
    AUFENTHG_104C = "aufenthg-104c"  # Chancen-Aufenthaltsrecht (since 31.12.2022)
    AUFENTHG_25 = "aufenthg-25"  # residence permit on humanitarian grounds
    OTHER = "other"


ALLOWED_LEGAL_BASES: dict[ResidenceStatus, frozenset[LegalBasis]] = {
    ResidenceStatus.DULDUNG: frozenset({LegalBasis.AUFENTHG_60A, LegalBasis.AUFENTHG_60B}),
    ResidenceStatus.AUSBILDUNGSDULDUNG: frozenset({LegalBasis.AUFENTHG_60C}),
    ResidenceStatus.BESCHAEFTIGUNGSDULDUNG: frozenset({LegalBasis.AUFENTHG_60D}),
    ResidenceStatus.GESTATTUNG: frozenset({LegalBasis.ASYLG_55}),
    ResidenceStatus.CHANCEN_AUFENTHALTSRECHT: frozenset({LegalBasis.AUFENTHG_104C}),
}
"""Statuses whose legal basis is fixed by law; the others accept any basis."""

DEFAULT_LEGAL_BASIS: dict[ResidenceStatus, LegalBasis] = {
    ResidenceStatus.DULDUNG: LegalBasis.AUFENTHG_60A,
    ResidenceStatus.AUSBILDUNGSDULDUNG: LegalBasis.AUFENTHG_60C,
    ResidenceStatus.BESCHAEFTIGUNGSDULDUNG: LegalBasis.AUFENTHG_60D,
    ResidenceStatus.GESTATTUNG: LegalBasis.ASYLG_55,
    ResidenceStatus.CHANCEN_AUFENTHALTSRECHT: LegalBasis.AUFENTHG_104C,
}
"""The basis assumed where an older message named only the status."""


# Only `register-participant.v1/v2` and `participant.registered.v1/v2` use this enum; their
# upcasters turn each name into its official key (`HERFORD_KEYS`). Newer versions carry
# `MunicipalityKey`, checked against the county files. The docstring is part of the
# published schemas of those versions, so it stays as it was.
class Municipality(StrEnum):
    """The nine municipalities of Kreis Herford (the default configuration)."""

    HERFORD = "herford"
    BUENDE = "buende"
    LOEHNE = "loehne"
    ENGER = "enger"
    SPENGE = "spenge"
    VLOTHO = "vlotho"
    HIDDENHAUSEN = "hiddenhausen"
    KIRCHLENGERN = "kirchlengern"
    ROEDINGHAUSEN = "roedinghausen"


HERFORD_KEYS: dict[str, str] = {
    Municipality.BUENDE: "05758004",
    Municipality.ENGER: "05758008",
    Municipality.HERFORD: "05758012",
    Municipality.HIDDENHAUSEN: "05758016",
    Municipality.KIRCHLENGERN: "05758020",
    Municipality.LOEHNE: "05758024",
    Municipality.ROEDINGHAUSEN: "05758028",
    Municipality.SPENGE: "05758032",
    Municipality.VLOTHO: "05758036",
}
"""The official key of each name the first versions used (Destatis Gemeindeverzeichnis)."""


def county_of_municipality(key: str) -> str:
    """The county key of a municipality key: its first five digits (Land, Bezirk, Kreis)."""
    return key[:5]


class SchoolEducation(StrEnum):
    """Highest school education, in the categories of the state's monitoring."""

    NONE = "none"
    PRIMARY = "primary"
    LOWER_SECONDARY = "lower-secondary"
    UPPER_SECONDARY = "upper-secondary"
    UNKNOWN = "unknown"


class ConsentScope(StrEnum):
    """What a participant agreed to, beyond the programme's legal basis."""

    DATA_SHARING_BETWEEN_PROVIDERS = "data-sharing-between-providers"
    FOLLOW_UP_CONTACT = "follow-up-contact"
    CONTACT_BY_PHONE = "contact-by-phone"


class ExitReason(StrEnum):
    """Why a person left the programme."""

    REGULAR_END = "regular-end"
    PLACED = "placed"
    MOVED_AWAY = "moved-away"
    LEFT_COUNTRY = "left-country"
    DEPORTED = "deported"
    DROPPED_OUT = "dropped-out"
    NO_CONTACT = "no-contact"
    OTHER = "other"


class ErasureReason(StrEnum):
    """Why personal data is to be erased."""

    PARTICIPANT_REQUEST = "participant-request"  # GDPR Art. 17
    PURPOSE_ENDED = "purpose-ended"
    REGISTERED_IN_ERROR = "registered-in-error"


class EligibilityRule(StrEnum):
    """The eligibility rules an exception may waive ("in justified single cases")."""

    AGE = "age"
    RESIDENCE_STATUS = "residence-status"
    MUNICIPALITY = "municipality"


class SessionTopic(StrEnum):
    """Topics of a coaching session, a fixed list."""

    TRAINING_SEARCH = "training-search"
    APPLICATIONS = "applications"
    LANGUAGE_COURSE = "language-course"
    RESIDENCE_LAW = "residence-law"
    HOUSING = "housing"
    HEALTH = "health"
    MONEY = "money"
    SCHOOL = "school"
    OTHER = "other"


class CaseCloseReason(StrEnum):
    """Why a coaching or participation-management case was closed."""

    GOAL_REACHED = "goal-reached"
    PROGRAMME_EXIT = "programme-exit"
    TRANSFERRED = "transferred"
    NO_CONTACT = "no-contact"
    MOVED_AWAY = "moved-away"
    OTHER = "other"


class RegularService(StrEnum):
    """Services of the regular system a case may refer to."""

    JOBCENTER = "jobcenter"
    EMPLOYMENT_AGENCY = "employment-agency"
    YOUTH_MIGRATION_SERVICE = "youth-migration-service"
    MIGRATION_COUNSELLING = "migration-counselling"
    OTHER = "other"


class ReferralAnswer(StrEnum):
    """The receiving side's answer to a referral."""

    ACCEPTED = "accepted"
    DECLINED = "declined"


class PlacementCategory(StrEnum):
    """Where a participant went (Verbleib), in the categories counties report."""

    AUSBILDUNG_COMPANY = "ausbildung-company"
    AUSBILDUNG_SCHOOL = "ausbildung-school"
    EMPLOYMENT = "employment"
    QUALIFICATION_MEASURE = "qualification-measure"
    LANGUAGE_COURSE = "language-course"
    SCHOOL = "school"
    REGULAR_SYSTEM = "regular-system"
    MOVED_AWAY = "moved-away"
    LEFT_COUNTRY = "left-country"
    DEPORTED = "deported"
    UNKNOWN = "unknown"


class EmploymentKind(StrEnum):
    """Employment subject to social insurance, or marginal (geringfügig)."""

    INSURED = "insured"
    MARGINAL = "marginal"


class FollowUpWindow(StrEnum):
    """ESF+ result windows after exit."""

    FOUR_WEEKS = "4-weeks"
    SIX_MONTHS = "6-months"


class CourseType(StrEnum):
    """Course types of modules F2, F3 and F4."""

    JUGENDINTEGRATIONSKURS = "jugendintegrationskurs"
    PREPARATORY_COURSE = "preparatory-course"
    HAUPTSCHULABSCHLUSS_COURSE = "hauptschulabschluss-course"
    IN_WORK_QUALIFICATION = "in-work-qualification"
    JOB_RELATED_LANGUAGE = "job-related-language"
    INDIVIDUAL_TUTORING = "individual-tutoring"


class DtzLevel(StrEnum):
    """A result of the Deutsch-Test für Zuwanderer (per skill or overall)."""

    B1 = "B1"
    A2 = "A2"
    BELOW_A2 = "below-A2"


class CertificateType(StrEnum):
    """Certificates a course may lead to."""

    HAUPTSCHULABSCHLUSS = "hauptschulabschluss"
    DTZ = "dtz"
    ORIENTATION_COURSE = "orientation-course"
    OTHER = "other"


class DropOutReason(StrEnum):
    """Why a participant left a course before its end."""

    PLACED = "placed"
    MOVED_AWAY = "moved-away"
    ILLNESS = "illness"
    LOST_INTEREST = "lost-interest"
    DEPORTED = "deported"
    NO_CONTACT = "no-contact"
    OTHER = "other"


class FundingKind(StrEnum):
    """What a funding amount pays for."""

    UE_LUMP_SUM = "ue-lump-sum"  # per teaching unit delivered
    EXAM_FEE = "exam-fee"  # at cost


class DtzOverall(StrEnum):
    """The overall DTZ result, or that the participant did not sit the exam."""

    B1 = "B1"
    A2 = "A2"
    BELOW_A2 = "below-A2"
    DID_NOT_SIT = "did-not-sit"
