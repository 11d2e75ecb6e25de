"""The deletion plan (Löschkonzept): how long every store keeps what it holds, from one file.

The plan names each kind of topic with its retention, and why; `topic_configs` turns it
into the broker's topic configuration, which the topic-setup job applies to new and to
existing topics alike (a plan that changes reaches the broker on the next setup run). It
names the stores outside Kafka too, with what deletes their data; where a service's
setting decides how long, the plan is its upper bound (`check_within`, at start).
The default plan ships with this package (`deletion-plan.toml`); a county replaces it with
its own through the setting `deletion_plan` (`DURCHSTARTEN_DELETION_PLAN`).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

from durchstarten.events.topics import TOPIC_PATTERNS, topic_kind

DEFAULT_PLAN = Path(__file__).with_name("deletion-plan.toml")

_PERIOD = re.compile(r"^(?P<count>[1-9][0-9]*)(?P<unit>[shdy])$")
_UNIT = {
    "s": timedelta(seconds=1),  # for tests that watch Kafka delete
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "y": timedelta(days=365),
}


def period(text: str) -> timedelta | None:
    """A plan's period: `<n>s`, `<n>h`, `<n>d`, `<n>y` (365 days), or None for "forever"."""
    if text == "forever":
        return None
    found = _PERIOD.fullmatch(text)
    if found is None:
        msg = f'a period is "<n>s", "<n>h", "<n>d", "<n>y" or "forever", not {text!r}'
        raise ValueError(msg)
    return int(found["count"]) * _UNIT[found["unit"]]


def _checked_period(text: str) -> str:
    period(text)
    return text


Period = Annotated[str, AfterValidator(_checked_period)]


def _milliseconds(text: str) -> str:
    found = period(text)
    return "-1" if found is None else str(int(found.total_seconds() * 1000))


class TopicRule(BaseModel):
    """How long one kind of topic keeps its records, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retention: Period
    segment: Period | None = None
    """When a segment closes even if small: Kafka deletes only closed segments."""
    reason: str

    def configs(self) -> dict[str, str]:
        """The broker's topic configuration for this rule."""
        configs = {"cleanup.policy": "delete", "retention.ms": _milliseconds(self.retention)}
        if self.segment is not None:
            configs["segment.ms"] = _milliseconds(self.segment)
        return configs


class TopicRules(BaseModel):
    """One rule per kind of topic the project has (DESIGN.md, Topics)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    inbound: TopicRule
    inbound_dead_letters: TopicRule
    outbound: TopicRule
    domain_events: TopicRule
    domain_dead_letters: TopicRule


class StoreRule(BaseModel):
    """How long a store outside Kafka keeps what it holds, why, and what deletes it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period: Period
    reason: str
    enforced_by: str

    @property
    def seconds(self) -> float | None:
        """The period in seconds; None: forever."""
        found = period(self.period)
        return None if found is None else found.total_seconds()

    def kept(self) -> str:
        """How long, in the words of the generated documentation."""
        return self.period


@dataclass(frozen=True)
class CalendarPeriod:
    """A period in days or calendar years, as deletion dates are counted (Löschfristen).

    Years are calendar years, not 365 days: three years after 2023-03-01 is 2026-03-01,
    whatever leap day lies between; from 29 February a year ends on 28 February, as in
    PostgreSQL (`date + interval '1 year'`), which counts the same in the schedule's SQL.
    """

    count: int
    unit: Literal["d", "y"]

    def after(self, day: date) -> date:
        """The day this period after `day`."""
        if self.unit == "d":
            return day + timedelta(days=self.count)
        year = day.year + self.count
        try:
            return day.replace(year=year)
        except ValueError:  # 29 February, into a common year
            return day.replace(year=year, day=28)

    def sql(self) -> str:
        """The period as a PostgreSQL interval (`'3 years'`)."""
        return f"{self.count} {'years' if self.unit == 'y' else 'days'}"


def calendar_period(text: str) -> CalendarPeriod | None:
    """A period of days or years (None: "forever"); hours and seconds are refused."""
    if text == "forever":
        return None
    found = _PERIOD.fullmatch(text)
    if found is None or found["unit"] not in {"d", "y"}:
        msg = f'a deletion period is "<n>d", "<n>y" or "forever", not {text!r}'
        raise ValueError(msg)
    unit: Literal["d", "y"] = "d" if found["unit"] == "d" else "y"
    return CalendarPeriod(int(found["count"]), unit)


def _checked_calendar_period(text: str) -> str:
    calendar_period(text)
    return text


DeletionPeriod = Annotated[str, AfterValidator(_checked_calendar_period)]


@dataclass(frozen=True)
class DeletionPeriods:
    """When identifiers go: after the exit, or after the entry when no exit was recorded.

    None for either: kept forever in that case.
    """

    after_exit: CalendarPeriod | None
    without_exit: CalendarPeriod | None

    @property
    def any(self) -> bool:
        """Whether anything is ever deleted by date (else the schedule need not run)."""
        return self.after_exit is not None or self.without_exit is not None

    def deletion_date(self, *, entry_date: date, exit_date: date | None) -> date | None:
        """The first day the identifiers are no longer kept; None: kept forever."""
        if exit_date is not None:
            return self.after_exit.after(exit_date) if self.after_exit else None
        return self.without_exit.after(entry_date) if self.without_exit else None


class IdentifierRule(StoreRule):
    """The vault's rule: identifiers are kept `period` after the programme exit.

    Someone whose exit is never recorded (the provider lost contact) is kept `without_exit`
    after entry. Intake's deletion schedule erases what is past its date, unless a legal
    hold is set; "forever" keeps them in that case. Days or calendar years only.
    """

    period: DeletionPeriod
    without_exit: DeletionPeriod

    def deletion_periods(self) -> DeletionPeriods:
        """The two periods, as the schedule and the person's record count them."""
        return DeletionPeriods(calendar_period(self.period), calendar_period(self.without_exit))

    def kept(self) -> str:
        """How long, in the words of the generated documentation."""
        return f"{self.period} after exit ({self.without_exit} after entry without an exit)"


class StoreRules(BaseModel):
    """One rule per store outside Kafka that holds something about people."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outbox_sent: StoreRule
    command_answers: StoreRule
    held_commands: StoreRule
    vault: IdentifierRule
    key_store_backups: StoreRule
    audit_trail: StoreRule
    service_logs: StoreRule


class DeletionPlan(BaseModel):
    """The whole plan, as read from its file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topics: TopicRules
    stores: StoreRules

    def topic_rule(self, topic: str) -> TopicRule:
        """The rule of `topic`, by the kind its name says (ValueError for a foreign topic)."""
        rule: TopicRule = getattr(self.topics, topic_kind(topic))
        return rule

    def topic_configs(self, topic: str) -> dict[str, str]:
        """The retention configuration `topic` must have on the broker."""
        return self.topic_rule(topic).configs()


MANAGED_TOPIC_CONFIGS = ("cleanup.policy", "retention.ms", "segment.ms")
"""The topic configuration keys the plan owns (a key it leaves out goes back to default)."""


def check_within(rule: StoreRule, seconds: float, setting: str) -> None:
    """Refuse a setting that would keep a store's data longer than the plan allows."""
    bound = rule.seconds
    if bound is not None and seconds > bound:
        msg = (
            f"{setting} keeps data {seconds:g} s, longer than the deletion plan's "
            f"{rule.period} ({bound:g} s)"
        )
        raise ValueError(msg)


def plan_markdown(plan: DeletionPlan) -> str:
    """The plan as the two Markdown tables of docs/data-protection.md (generated, not typed)."""
    lines = ["| topics | retention | segments close after | why |", "|---|---|---|---|"]
    for kind, pattern in TOPIC_PATTERNS.items():
        rule: TopicRule = getattr(plan.topics, kind)
        segment = rule.segment or "Kafka's default (7d)"
        lines.append(f"| `{pattern}` | {rule.retention} | {segment} | {rule.reason} |")
    lines += ["", "| store | kept | why | deleted by |", "|---|---|---|---|"]
    for name in StoreRules.model_fields:
        store: StoreRule = getattr(plan.stores, name)
        lines.append(f"| {name} | {store.kept()} | {store.reason} | {store.enforced_by} |")
    return "\n".join(lines) + "\n"


def load_plan(path: Path | None = None) -> DeletionPlan:
    """The plan in the file at `path`, or the default plan."""
    with (path or DEFAULT_PLAN).open("rb") as file:
        return DeletionPlan.model_validate(tomllib.load(file))


__all__ = [
    "DEFAULT_PLAN",
    "MANAGED_TOPIC_CONFIGS",
    "CalendarPeriod",
    "DeletionPeriods",
    "DeletionPlan",
    "IdentifierRule",
    "StoreRule",
    "TopicRule",
    "calendar_period",
    "check_within",
    "load_plan",
    "period",
    "plan_markdown",
]
