"""Value types shared by every command and event: one exact definition each (DOMAIN.md)."""

from __future__ import annotations

from enum import StrEnum


class CefrLevel(StrEnum):
    """Common European Framework of Reference level (German: GER)."""

    NONE = "none"
    A1 = "A1"
    A2 = "A2"
    B1 = "B1"
    B2 = "B2"
    C1 = "C1"
    C2 = "C2"


class Sex(StrEnum):
    """Sex as recorded in the state's monitoring (with the third option of German civil law)."""

    FEMALE = "female"
    MALE = "male"
    DIVERSE = "diverse"
    NOT_STATED = "not-stated"


class ResidenceStatus(StrEnum):
    """Residence status with its legal basis; the target group is Duldung or Gestattung."""

    DULDUNG = "duldung"  # § 60a AufenthG
    AUSBILDUNGSDULDUNG = "ausbildungsduldung"  # § 60c AufenthG
    BESCHAEFTIGUNGSDULDUNG = "beschaeftigungsduldung"  # § 60d AufenthG
    GESTATTUNG = "gestattung"  # § 55 AsylG
    AUFENTHALTSERLAUBNIS = "aufenthaltserlaubnis"
    CHANCEN_AUFENTHALTSRECHT = "chancen-aufenthaltsrecht"  # § 104c AufenthG
    OTHER = "other"


class Municipality(StrEnum):
    """The nine municipalities of Kreis Herford."""

    HERFORD = "herford"
    BUENDE = "buende"
    LOEHNE = "loehne"
    ENGER = "enger"
    SPENGE = "spenge"
    VLOTHO = "vlotho"
    HIDDENHAUSEN = "hiddenhausen"
    KIRCHLENGERN = "kirchlengern"
    ROEDINGHAUSEN = "roedinghausen"


class SchoolEducation(StrEnum):
    """Highest school education, in the categories of the state's monitoring."""

    NONE = "none"
    PRIMARY = "primary"
    LOWER_SECONDARY = "lower-secondary"
    UPPER_SECONDARY = "upper-secondary"
    UNKNOWN = "unknown"
