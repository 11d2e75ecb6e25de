"""Base classes for the payloads inside the envelope: strict commands, tolerant events.

Every message class names its wire type (`<name>.v<N>`) and carries one valid example, which
the JSON Schemas, the AsyncAPI document and the contract tests all use.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict


class Command(BaseModel):
    """An inbound request from a provider: imperative, strict (unknown fields are rejected)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    command_type: ClassVar[str]
    example: ClassVar[dict[str, Any]]
    # Data fields that identify nobody; the rest of a command that carries personal
    # identifiers is redacted wherever it must be kept outside intake (dead letters).
    non_identifying_fields: ClassVar[frozenset[str] | None] = None


class Event(BaseModel):
    """A domain fact in past tense; consumers read it tolerantly (unknown fields ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
    example: ClassVar[dict[str, Any]]


class Part(BaseModel):
    """A value object inside a message; strict like the message that holds it."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class TolerantPart(BaseModel):
    """A value object inside an event, read tolerantly like the event."""

    model_config = ConfigDict(frozen=True, extra="ignore")
