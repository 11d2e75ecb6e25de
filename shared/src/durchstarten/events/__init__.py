"""The contract: envelope, commands, events, replies, topic names, versions and upcasters."""

from __future__ import annotations

from durchstarten.events.base import Command, Event
from durchstarten.events.catalogue import BY_TYPE, CATALOGUE, Entry, Kind
from durchstarten.events.envelope import CONTENT_TYPE, CloudEvent, new_event
from durchstarten.events.intake import ParticipantRegistered, RegisterParticipant
from durchstarten.events.replies import CommandAccepted, CommandRejected
from durchstarten.events.upcasting import upcast

COMMANDS: dict[str, type[Command]] = {
    e.type: e.model for e in CATALOGUE if e.kind is Kind.COMMAND and issubclass(e.model, Command)
}
EVENTS: dict[str, type[Event]] = {
    e.type: e.model for e in CATALOGUE if e.kind is not Kind.COMMAND and issubclass(e.model, Event)
}


def read_event(envelope: CloudEvent) -> Event | None:
    """The current-version model of a domain event or reply; None for an unknown type.

    Old versions are upcast first. Raises pydantic.ValidationError when the data is invalid.
    """
    if envelope.type not in EVENTS:
        return None
    type_, data = upcast(envelope.type, dict(envelope.data))
    return EVENTS[type_].model_validate(data)


__all__ = [
    "BY_TYPE",
    "CATALOGUE",
    "COMMANDS",
    "CONTENT_TYPE",
    "EVENTS",
    "CloudEvent",
    "Command",
    "CommandAccepted",
    "CommandRejected",
    "Entry",
    "Event",
    "Kind",
    "ParticipantRegistered",
    "RegisterParticipant",
    "new_event",
    "read_event",
]
