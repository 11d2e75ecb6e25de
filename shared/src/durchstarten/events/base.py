"""Base classes for the payloads inside the envelope: strict commands, tolerant events."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class Command(BaseModel):
    """An inbound request from a provider: imperative, strict (unknown fields are rejected)."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    command_type: ClassVar[str]
    # Data fields that identify nobody; the rest of a command that carries personal
    # identifiers is redacted wherever it must be kept outside intake (dead letters).
    non_identifying_fields: ClassVar[frozenset[str]] = frozenset()


class Event(BaseModel):
    """A domain fact in past tense; consumers read it tolerantly (unknown fields ignored)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    event_type: ClassVar[str]
