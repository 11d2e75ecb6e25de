"""What every service's pure rules raise: a rule violation, or a reference not known yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from durchstarten.events.reasons import ReasonCode
from durchstarten.events.replies import RuleFailure


@dataclass(frozen=True)
class RuleViolation(Exception):
    """A valid command the rules do not allow; answered with a rejection.

    `failed_rules` names every eligibility rule not met, where the rejection is about them.
    """

    reason: ReasonCode
    field: str | None
    message_en: str
    message_de: str
    failed_rules: tuple[RuleFailure, ...] = ()


@dataclass(frozen=True)
class NotKnownYet(Exception):
    """The command refers to something another service has not announced yet."""

    waiting_for: str


def not_in_future(day: date, today: date, field: str) -> None:
    """Refuse a date after today: what a provider records has happened already."""
    if day > today:
        raise RuleViolation(
            ReasonCode.DATE_IN_FUTURE,
            field,
            "The date lies in the future.",
            "Das Datum liegt in der Zukunft.",
        )


def consent_required() -> RuleViolation:
    """The rejection of a step that needs consent to data sharing between providers.

    A sure duplicate from another provider (intake), a referral to another provider
    (coaching): only with the person's consent, in force on the day, or a coordinator's
    override for that provider.
    """
    return RuleViolation(
        ReasonCode.CONSENT_REQUIRED,
        "consent",
        "This needs the person's consent to data sharing between providers, in force on"
        " the day, or a county coordinator's override.",
        "Dafür ist die Einwilligung der Person in die Datenweitergabe zwischen Trägern"
        " nötig (gültig an dem Tag) oder eine Freigabe der Koordinierung.",
    )
