"""Replies a service sends to a provider's outbound topic: acceptances and rejections."""

from __future__ import annotations

import uuid
from typing import ClassVar

from pydantic import Field

from durchstarten.events.base import Event


class CommandAccepted(Event):
    """A command was carried out; names what the provider needs to refer to it later."""

    event_type: ClassVar[str] = "command.accepted.v1"

    command_id: str
    command_type: str
    participant_id: uuid.UUID | None = None
    provider_reference: str | None = None


class CommandRejected(Event):
    """A command was not carried out; says why, in German and English, and names the field."""

    event_type: ClassVar[str] = "command.rejected.v1"

    command_id: str | None = Field(description="Null when the message could not be parsed.")
    command_type: str | None = None
    reason: str = Field(description="Stable reason code, e.g. `invalid-field`, `unknown-type`.")
    field: str | None = Field(default=None, description="Dotted path of the offending field.")
    message_de: str
    message_en: str
    source_topic: str | None = None
    source_partition: int | None = None
    source_offset: int | None = None
