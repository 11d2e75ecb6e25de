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
from datetime import timedelta
from pathlib import Path
from typing import Annotated

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


class IdentifierRule(StoreRule):
    """The vault's rule: identifiers are kept `period` after the programme exit.

    Someone whose exit is never recorded (the provider lost contact) is kept `without_exit`
    after entry. Intake's deletion schedule erases what is past its date, unless a legal
    hold is set; "forever" for both turns the schedule off.
    """

    without_exit: Period

    def deletion_periods(self) -> tuple[timedelta, timedelta] | None:
        """(after exit, after entry without exit); None when the plan keeps identifiers."""
        after_exit, without_exit = period(self.period), period(self.without_exit)
        if after_exit is None or without_exit is None:
            return None
        return after_exit, without_exit

    def kept(self) -> str:
        """How long, in the words of the generated documentation."""
        return f"{self.period} after exit ({self.without_exit} after entry without an exit)"


class StoreRules(BaseModel):
    """One rule per store outside Kafka that holds something about people."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outbox_sent: StoreRule
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
    "DeletionPlan",
    "IdentifierRule",
    "StoreRule",
    "TopicRule",
    "check_within",
    "load_plan",
    "period",
    "plan_markdown",
]
