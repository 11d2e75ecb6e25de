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
