"""The contract: envelope, commands, events, replies and topic names."""

from durchstarten.events.base import Command, Event
from durchstarten.events.envelope import CONTENT_TYPE, CloudEvent, new_event
from durchstarten.events.intake import ParticipantRegistered, RegisterParticipant
from durchstarten.events.replies import CommandAccepted, CommandRejected

COMMANDS: dict[str, type[Command]] = {model.command_type: model for model in (RegisterParticipant,)}
EVENTS: dict[str, type[Event]] = {
    model.event_type: model for model in (ParticipantRegistered, CommandAccepted, CommandRejected)
}

__all__ = [
    "COMMANDS",
    "CONTENT_TYPE",
    "EVENTS",
    "CloudEvent",
    "Command",
    "CommandAccepted",
    "CommandRejected",
    "Event",
    "ParticipantRegistered",
    "RegisterParticipant",
    "new_event",
]
