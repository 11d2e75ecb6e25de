"""The processing register (GDPR Art. 30), generated from the configuration.

`processing-register.toml` states what only people can say (purposes, legal bases, the
persons concerned, technical measures) and sorts every field of the message contract into
a category of data. Everything else comes from the configuration itself: which fields each
activity processes (the contract), who receives its data (the Kafka access declaration),
and how long each store keeps it (the deletion plan). `uncategorised` names contract fields
the register does not know, so a new field cannot slip past the data protection officer.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import get_args

from pydantic import BaseModel, ConfigDict

from durchstarten.events.catalogue import Entry, commands_of, events_of
from durchstarten.events.topics import WRITE_SERVICES, ServiceName, domain_events
from durchstarten.messaging.access import LEARNS_FROM, READS_FOR_ACCESS_REQUESTS
from durchstarten.retention import DeletionPlan, StoreRule, TopicRule

DEFAULT_REGISTER = Path(__file__).with_name("processing-register.toml")


class Activity(BaseModel):
    """One processing activity: a service and what it is for."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    service: ServiceName
    purpose: str
    legal_basis: str
    persons: str
    stores: list[str]


class Measures(BaseModel):
    """The technical and organisational measures (Art. 32), as a list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: list[str]


class ProcessingRegister(BaseModel):
    """The register's file, as read."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    controller: str
    categories: dict[str, list[str]]
    category_names: dict[str, str]
    activities: list[Activity]
    measures: Measures


def load_register(path: Path | None = None) -> ProcessingRegister:
    """The register in the file at `path`, or the one that ships with the code."""
    with (path or DEFAULT_REGISTER).open("rb") as file:
        return ProcessingRegister.model_validate(tomllib.load(file))


def _messages(service: ServiceName) -> list[Entry]:
    """The current message types an activity processes: its own, or all it consumes."""
    if service in WRITE_SERVICES:
        entries = commands_of(service) + events_of(service)
    else:
        entries = [e for owner in WRITE_SERVICES for e in events_of(owner)]
    return [entry for entry in entries if entry.current]


def _model_fields(model: type[BaseModel]) -> set[str]:
    """A model's field names, and those of the models nested in it (consent, levels, ...)."""
    found: set[str] = set()
    for name, info in model.model_fields.items():
        found.add(name)
        for nested in _models_in(info.annotation):
            found |= _model_fields(nested)
    return found


def _models_in(annotation: object) -> list[type[BaseModel]]:
    """The pydantic models an annotation names (through lists, unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [model for arg in get_args(annotation) for model in _models_in(arg)]


def fields_of(service: ServiceName) -> set[str]:
    """Every field of the messages the activity processes, nested ones included."""
    return {name for entry in _messages(service) for name in _model_fields(entry.model)}


def uncategorised(register: ProcessingRegister) -> set[str]:
    """Contract fields in no category of the register (should be none)."""
    known = {name for names in register.categories.values() for name in names}
    every = set().union(*(fields_of(a.service) for a in register.activities))
    return every - known


def recipients(service: ServiceName) -> list[str]:
    """Who receives the activity's data, from the Kafka access declaration."""
    found: list[str] = []
    if service in WRITE_SERVICES:
        found.append("the providers: replies on their own outbound topic only")
        readers: list[str] = sorted(
            s for s, topics in LEARNS_FROM.items() if domain_events(service) in topics
        )
        readers += sorted(
            f"{s} (access requests only)"
            for s, topics in READS_FOR_ACCESS_REQUESTS.items()
            if domain_events(service) in topics and s != service
        )
        found.append("services, pseudonymous events only: " + ", ".join(readers))
        found.append("county coordinators, over HTTP, for their county")
    else:
        found.append("county coordinators and the ministry: tables under disclosure control")
        found.append("providers: their own figures, under the same control")
    return found


def _period(plan: DeletionPlan, store: str) -> str:
    rule: TopicRule | StoreRule | None = getattr(plan.topics, store, None) or getattr(
        plan.stores, store, None
    )
    if rule is None:
        msg = f"the register names a store the deletion plan does not have: {store}"
        raise ValueError(msg)
    return f"{store}: {rule.retention if isinstance(rule, TopicRule) else rule.kept()}"


def register_markdown(register: ProcessingRegister, plan: DeletionPlan) -> str:
    """The register as Markdown for docs/data-protection.md (generated, not typed)."""
    lines = [f"Controller: {register.controller}.", ""]
    for activity in register.activities:
        fields = fields_of(activity.service)
        data = [
            f"{register.category_names[category]} ({', '.join(f'`{n}`' for n in sorted(used))})"
            for category, names in register.categories.items()
            if (used := fields & set(names)) and category != "not_about_people"
        ]
        lines += [
            f"#### {activity.name} (`{activity.service}`)",
            "",
            "| | |",
            "|---|---|",
            f"| purpose | {activity.purpose} |",
            f"| legal basis | {activity.legal_basis} |",
            f"| persons | {activity.persons} |",
            f"| data | {'; '.join(data)} |",
            f"| recipients | {'; '.join(recipients(activity.service))} |",
            f"| periods | {'; '.join(_period(plan, s) for s in activity.stores)} |",
            "",
        ]
    lines += ["#### Technical and organisational measures (Art. 32)", ""]
    lines += [f"- {item}" for item in register.measures.items]
    return "\n".join(lines) + "\n"


__all__ = [
    "DEFAULT_REGISTER",
    "ProcessingRegister",
    "fields_of",
    "load_register",
    "recipients",
    "register_markdown",
    "uncategorised",
]
