"""What every service's pure rules raise: a rule violation, or a reference not known yet."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from durchstarten.events.reasons import ReasonCode


@dataclass(frozen=True)
class RuleViolation(Exception):
    """A valid command the rules do not allow; answered with a rejection."""

    reason: ReasonCode
    field: str | None
    message_en: str
    message_de: str


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
