"""The edge of every write service: parse an inbound command strictly, and build replies."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from pydantic import ValidationError

from durchstarten.auth import Principal, Role
from durchstarten.events import COMMANDS, CloudEvent, Command, CommandAccepted, CommandRejected
from durchstarten.events.envelope import new_event
from durchstarten.events.reasons import ReasonCode
from durchstarten.events.replies import RuleFailure
from durchstarten.events.upcasting import UPCASTERS, upcast
from durchstarten.messaging.errors import PermanentError, from_validation_error

REJECTION_NAMESPACE = uuid.UUID("0d8c3c1e-5b55-4c55-9a57-6a2d2f0b9e61")


@dataclass(frozen=True)
class Actor:
    """Who sent a command: a provider's system (topic or token) or county staff (token)."""

    subject: str
    provider: str | None
    coordinator: bool
    county: str | None = None
    """For county staff, the county they act in; None: statewide (an administrator)."""

    @classmethod
    def provider_system(cls, provider: str) -> Actor:
        """A provider's system writing to its inbound topic."""
        return cls(subject=f"provider:{provider}", provider=provider, coordinator=False)

    @classmethod
    def from_principal(cls, principal: Principal) -> Actor:
        """A caller of the HTTP API: a provider by its token's provider claim, or staff.

        An administrator acts statewide; a coordinator only in the county of its token.
        """
        staff = bool(principal.roles & {Role.COORDINATOR, Role.ADMIN})
        provider = principal.provider if Role.PROVIDER in principal.roles else None
        county = None if Role.ADMIN in principal.roles else principal.county
        return cls(subject=principal.subject, provider=provider, coordinator=staff, county=county)

    def covers(self, county: str) -> bool:
        """Whether this county staff member may act on a person of `county`."""
        return self.coordinator and (self.county is None or self.county == county)

    @property
    def channel(self) -> str:
        """The provider whose outbound topic answers; `staff.<subject>` for county staff.

        Staff have no outbound topic: their HTTP response is their reply.
        """
        return self.provider or f"staff.{self.subject}"


@dataclass(frozen=True)
class InboundCommand:
    """A parsed command with its envelope, the channel it came from and who sent it.

    `provider` is the channel: for Kafka the provider named by the topic, never the payload.
    """

    provider: str
    envelope: CloudEvent
    command: Command
    sender: Actor | None = None

    @property
    def actor(self) -> Actor:
        """Who sent it: the given sender, else the provider's system behind the topic."""
        return self.sender or Actor.provider_system(self.provider)

    @property
    def dedupe_key(self) -> str:
        """CloudEvents ids are unique per source; the provider is the source."""
        return f"{self.provider}:{self.envelope.id}"


def parse_command(
    raw: bytes, *, provider: str, accepted: frozenset[str], sender: Actor | None = None
) -> InboundCommand:
    """Parse structured-mode CloudEvents JSON into a command this service accepts.

    Raises PermanentError naming the field and the rule, never quoting input values.
    """
    try:
        envelope = CloudEvent.from_json(raw)
    except ValidationError as error:
        raise from_validation_error(error) from None
    model = COMMANDS.get(envelope.type)
    if model is None or envelope.type not in accepted:
        raise PermanentError(
            ReasonCode.UNKNOWN_TYPE,
            field="type",
            message_en=f"This service does not accept commands of type '{envelope.type}'.",
            message_de=f"Dieser Dienst nimmt keine Befehle vom Typ '{envelope.type}' an.",
        )
    try:
        command = model.model_validate(envelope.data)
        if envelope.type in UPCASTERS:
            # An older version, valid as such: bring it to the current version, which the
            # handlers understand. Its own validation already named any bad field.
            current_type, data = upcast(envelope.type, command.model_dump(mode="json"))
            command = COMMANDS[current_type].model_validate(data)
    except ValidationError as error:
        raise from_validation_error(
            error, prefix="data", quotable=model.non_identifying_fields
        ) from None
    return InboundCommand(provider=provider, envelope=envelope, command=command, sender=sender)


def command_id_of(raw: bytes) -> tuple[str | None, str | None]:
    """Best-effort (id, type) of a message that failed to parse, for the rejection."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(body, dict):
        return None, None
    ident, type_ = body.get("id"), body.get("type")
    return _echoable(ident), _echoable(type_)


def _echoable(value: object) -> str | None:
    """A value fit to echo in a reply: a short printable string, else nothing."""
    if isinstance(value, str) and 0 < len(value) <= 200 and value.isprintable():
        return value
    return None


def rejection(
    *,
    service: str,
    error: PermanentError,
    command_id: str | None,
    command_type: str | None,
    source: tuple[str, int, int] | None = None,
    correlationid: str | None = None,
    failed_rules: tuple[RuleFailure, ...] = (),
) -> CloudEvent:
    """The reply telling a provider why its command was not carried out."""
    topic, partition, offset = source if source is not None else (None, None, None)
    event = new_event(
        source=f"/services/{service}",
        type_=CommandRejected.event_type,
        data=CommandRejected(
            command_id=command_id,
            command_type=command_type,
            reason=error.reason,
            field=error.field,
            message_en=error.message_en,
            message_de=error.message_de,
            source_topic=topic,
            source_partition=partition,
            source_offset=offset,
            failed_rules=list(failed_rules),
        ),
        correlationid=correlationid or command_id,
        causationid=command_id,
    )
    if source is not None:
        # The same message rejected again (after a crash or redelivery) gets the same reply
        # id, so a provider can drop the repeat.
        reply_id = uuid.uuid5(REJECTION_NAMESPACE, f"{topic}/{partition}/{offset}")
        event = event.model_copy(update={"id": str(reply_id)})
    return event


def acceptance(*, service: str, inbound: InboundCommand, reply: CommandAccepted) -> CloudEvent:
    """The reply confirming a command, correlated with it."""
    return new_event(
        source=f"/services/{service}",
        type_=CommandAccepted.event_type,
        data=reply,
        subject=str(reply.participant_id) if reply.participant_id else None,
        correlationid=inbound.envelope.correlationid or inbound.envelope.id,
        causationid=inbound.envelope.id,
    )
