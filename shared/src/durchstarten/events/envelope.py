"""The CloudEvents 1.0 envelope in structured JSON mode, used for every command and event.

Structured mode keeps the whole envelope in the message value, so a provider's system in any
language can produce and read it with a plain Kafka client and a JSON library.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

CONTENT_TYPE = "application/cloudevents+json"
DATA_CONTENT_TYPE = "application/json"
# No control characters in identifying attributes: they end up in logs, headers and
# database columns (PostgreSQL text cannot even hold NUL).
_PRINTABLE = r"^[^\x00-\x1f\x7f]+$"


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope with the project's extensions `correlationid`, `causationid`.

    Unknown extension attributes are kept (CloudEvents allows them), but the core attributes
    are checked exactly: a command with a wrong spec version or a naive time is rejected.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(
        min_length=1, max_length=200, pattern=_PRINTABLE, description="Unique per source."
    )
    source: str = Field(
        min_length=1, max_length=200, pattern=_PRINTABLE, description="e.g. /services/intake"
    )
    type: str = Field(
        min_length=1,
        max_length=200,
        pattern=r"^[a-z][a-z0-9-]*(\.[a-z][a-z0-9-]*)*\.v[1-9][0-9]*$",
        description="`<aggregate>.<fact>.v<N>` for events, `<verb-object>.v<N>` for commands.",
    )
    time: AwareDatetime
    subject: str | None = Field(
        default=None, max_length=200, pattern=_PRINTABLE, description="Participant pseudonym."
    )
    datacontenttype: Literal["application/json"] = "application/json"
    data: dict[str, Any]
    correlationid: str | None = Field(default=None, max_length=200, pattern=_PRINTABLE)
    causationid: str | None = Field(default=None, max_length=200, pattern=_PRINTABLE)

    def to_json(self) -> bytes:
        """Serialise to the structured-mode JSON bytes that go on the wire."""
        return self.model_dump_json(exclude_none=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> CloudEvent:
        """Parse structured-mode JSON bytes; raises pydantic.ValidationError when invalid."""
        return cls.model_validate_json(raw)


def new_event(
    *,
    source: str,
    type_: str,
    data: BaseModel,
    subject: str | None = None,
    correlationid: str | None = None,
    causationid: str | None = None,
    time: datetime | None = None,
) -> CloudEvent:
    """Wrap a payload model in a fresh envelope with a random UUID id."""
    return CloudEvent(
        id=str(uuid.uuid4()),
        source=source,
        type=type_,
        time=time or datetime.now(UTC),
        subject=subject,
        data=data.model_dump(mode="json"),
        correlationid=correlationid,
        causationid=causationid,
    )
