"""The deletion plan (Löschkonzept): how long every store keeps what it holds, from one file.

The plan names each kind of topic with its retention, and why; `topic_configs` turns it
into the broker's topic configuration, which the topic-setup job applies to new and to
existing topics alike (a plan that changes reaches the broker on the next setup run).
The default plan ships with this package (`deletion-plan.toml`); a county replaces it with
its own through the setting `deletion_plan` (`DURCHSTARTEN_DELETION_PLAN`).
"""

from __future__ import annotations

import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

DEFAULT_PLAN = Path(__file__).with_name("deletion-plan.toml")

TopicKind = Literal[
    "inbound", "inbound_dead_letters", "outbound", "domain_events", "domain_dead_letters"
]

_PERIOD = re.compile(r"^(?P<count>[1-9][0-9]*)(?P<unit>[hdy])$")
_UNIT = {"h": timedelta(hours=1), "d": timedelta(days=1), "y": timedelta(days=365)}


def period(text: str) -> timedelta | None:
    """A plan's period: `<n>h`, `<n>d`, `<n>y` (365 days), or None for "forever"."""
    if text == "forever":
        return None
    found = _PERIOD.fullmatch(text)
    if found is None:
        msg = f'a period is "<n>h", "<n>d", "<n>y" or "forever", not {text!r}'
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


class DeletionPlan(BaseModel):
    """The whole plan, as read from its file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topics: TopicRules

    def topic_rule(self, topic: str) -> TopicRule:
        """The rule of `topic`, by the kind its name says (ValueError for a foreign topic)."""
        rule: TopicRule = getattr(self.topics, topic_kind(topic))
        return rule

    def topic_configs(self, topic: str) -> dict[str, str]:
        """The retention configuration `topic` must have on the broker."""
        return self.topic_rule(topic).configs()


MANAGED_TOPIC_CONFIGS = ("cleanup.policy", "retention.ms", "segment.ms")
"""The topic configuration keys the plan owns (a key it leaves out goes back to default)."""


def topic_kind(topic: str) -> TopicKind:
    """Which of the plan's kinds `topic` is, by its name (`durchstarten.events.topics`)."""
    parts = topic.split(".")
    dead = parts[-1] == "dlq"
    if dead:
        parts = parts[:-1]
    if len(parts) == 3 and parts[0] == "inbound":
        return "inbound_dead_letters" if dead else "inbound"
    if len(parts) == 3 and parts[0] == "outbound" and not dead:
        return "outbound"
    if len(parts) == 2 and parts[1] == "events":
        return "domain_dead_letters" if dead else "domain_events"
    msg = f"{topic!r} is not a topic of the project: the deletion plan has no rule for it"
    raise ValueError(msg)


def load_plan(path: Path | None = None) -> DeletionPlan:
    """The plan in the file at `path`, or the default plan."""
    with (path or DEFAULT_PLAN).open("rb") as file:
        return DeletionPlan.model_validate(tomllib.load(file))


__all__ = [
    "DEFAULT_PLAN",
    "MANAGED_TOPIC_CONFIGS",
    "DeletionPlan",
    "TopicRule",
    "load_plan",
    "period",
    "topic_kind",
]
