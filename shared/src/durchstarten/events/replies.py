"""Replies a service sends to a provider's outbound topic: acceptances and rejections."""

from __future__ import annotations

import uuid
from typing import Any, ClassVar

from pydantic import Field

from durchstarten.events.base import Event, TolerantPart


class RuleFailure(TolerantPart):
    """One eligibility rule a person does not meet."""

    reason: str = Field(description="Reason code, e.g. `age-above-maximum`.")
    field: str | None = None
    waivable: bool = Field(description="A county coordinator may approve an exception.")
    message_de: str
    message_en: str


class CommandAccepted(Event):
    """A command was carried out; names what the provider needs to refer to it later."""

    event_type: ClassVar[str] = "command.accepted.v1"

    command_id: str = Field(description="The `id` of the command's envelope.")
    command_type: str
    participant_id: uuid.UUID | None = Field(
        default=None, description="The pseudonym, for a registration and per-person commands."
    )
    provider_reference: str | None = Field(
        default=None,
        description=(
            "No longer filled (always null): the reference links to the person, and replies"
            " outlive an erasure by the outbound topic's retention. Match by `command_id`."
        ),
    )
    status: str | None = Field(
        default=None,
        description=(
            "For a registration: `registered`; `pending-exception` (waits for a coordinator's "
            "approval of `failed_rules`); `existing-participant` (the person is registered "
            "already: `participant_id` is theirs); `possible-duplicate` (registered, and a "
            "coordinator will check a similar person)."
        ),
    )
    failed_rules: list[RuleFailure] = Field(default_factory=list)
    repeat: bool = Field(
        default=False,
        description="True when this answers a command sent again with the same id: the first "
        "one's reply, repeated (nothing was carried out again).",
    )

    example: ClassVar[dict[str, Any]] = {
        "command_id": "4f1c0d3e-8b0a-4a57-b7a3-3f0e9c2d1b6a",
        "command_type": "register-participant.v2",
        "participant_id": "6f1c1a52-8d1b-4a8e-9a55-0f1d64c3c0de",
    }


class CommandRejected(Event):
    """A command was not carried out; says why, in German and English, and names the field."""

    event_type: ClassVar[str] = "command.rejected.v1"

    command_id: str | None = Field(description="Null when the message could not be parsed.")
    command_type: str | None = None
    reason: str = Field(
        description="Stable reason code (docs/providers.md lists them), e.g. `invalid-field`."
    )
    field: str | None = Field(default=None, description="Dotted path of the offending field.")
    message_de: str
    message_en: str
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
    failed_rules: list[RuleFailure] = Field(
        default_factory=list, description="For `not-eligible`: every rule not met."
    )
    repeat: bool = Field(
        default=False,
        description="True when this answers a command sent again with the same id: the first "
        "one's rejection, repeated.",
    )

    example: ClassVar[dict[str, Any]] = {
        "command_id": "4f1c0d3e-8b0a-4a57-b7a3-3f0e9c2d1b6a",
        "command_type": "register-participant.v2",
        "reason": "invalid-field",
        "field": "data.birth_date",
        "message_de": "Das Feld 'data.birth_date' ist ungültig (date_from_datetime_parsing).",
        "message_en": "Field 'data.birth_date' is invalid: Input should be a valid date.",
        "source_topic": "inbound.diakonie-herford.intake",
        "source_partition": 0,
        "source_offset": 41,
    }
