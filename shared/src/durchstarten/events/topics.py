"""Topic names: the one place that knows how channels are named (DESIGN.md, Topics)."""

from __future__ import annotations

import re
from typing import Literal

ServiceName = Literal["intake", "coaching", "courses", "reporting"]
WRITE_SERVICES: tuple[ServiceName, ...] = ("intake", "coaching", "courses")

_PROVIDER_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")

INTAKE_EVENTS = "intake.events"
COACHING_EVENTS = "coaching.events"
COURSES_EVENTS = "courses.events"
DOMAIN_EVENT_TOPICS: tuple[str, ...] = (INTAKE_EVENTS, COACHING_EVENTS, COURSES_EVENTS)


def validate_provider_id(provider: str) -> str:
    """Return `provider` if it is a valid provider id (lower-case slug), else raise ValueError."""
    if not _PROVIDER_ID.fullmatch(provider):
        msg = f"provider id {provider!r} must be a lower-case slug of a-z, 0-9 and '-'"
        raise ValueError(msg)
    return provider


def domain_events(service: ServiceName) -> str:
    """Topic of the domain events a write service owns, e.g. `intake.events`."""
    return f"{service}.events"


def inbound(provider: str, service: ServiceName) -> str:
    """Topic on which `provider` sends commands to `service`."""
    return f"inbound.{validate_provider_id(provider)}.{service}"


def outbound(provider: str, service: ServiceName) -> str:
    """Topic on which `service` replies to `provider` (acceptances and rejections)."""
    return f"outbound.{validate_provider_id(provider)}.{service}"


def dead_letters(topic: str) -> str:
    """Dead-letter topic of `topic`."""
    return f"{topic}.dlq"


def provider_of_inbound(topic: str) -> str:
    """The provider id an inbound topic belongs to: identity comes from the topic, not the body."""
    parts = topic.split(".")
    if len(parts) != 3 or parts[0] != "inbound":
        msg = f"{topic!r} is not an inbound topic"
        raise ValueError(msg)
    return validate_provider_id(parts[1])


def project_topics(providers: list[str]) -> list[str]:
    """Every topic the project uses for these providers, dead-letter topics included."""
    topics: list[str] = []
    for service in WRITE_SERVICES:
        topics.append(domain_events(service))
        for provider in providers:
            topics += [inbound(provider, service), outbound(provider, service)]
    return topics + [dead_letters(topic) for topic in topics if not topic.startswith("outbound.")]


TopicKind = Literal[
    "inbound", "inbound_dead_letters", "outbound", "domain_events", "domain_dead_letters"
]
"""The kinds of topic the project has, as the deletion plan gives each its rule."""

TOPIC_PATTERNS: dict[TopicKind, str] = {
    "inbound": "inbound.<provider>.<service>",
    "inbound_dead_letters": "inbound.<provider>.<service>.dlq",
    "outbound": "outbound.<provider>.<service>",
    "domain_events": "<service>.events",
    "domain_dead_letters": "<service>.events.dlq",
}
"""Each kind's names, as the documentation writes them."""


def topic_kind(topic: str) -> TopicKind:
    """Which kind of the project's topics `topic` is, by its name (ValueError for another)."""
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
