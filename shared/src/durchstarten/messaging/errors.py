"""How a consumer tells a permanent failure (dead-letter it) from a transient one (retry it)."""

from __future__ import annotations

import asyncio

import asyncpg
from aiokafka.errors import KafkaConnectionError, KafkaTimeoutError
from pydantic import ValidationError

from durchstarten.events.reasons import ReasonCode


class PermanentError(Exception):
    """The message can never be processed as it is: it goes to the dead-letter topic.

    `reason` is a stable code for machines; the messages are for the provider's staff. Never
    put input values into any of them: they may be personal identifiers.
    """

    def __init__(
        self,
        reason: ReasonCode,
        *,
        message_en: str,
        message_de: str,
        field: str | None = None,
    ) -> None:
        """Describe the failure without quoting the input."""
        super().__init__(f"{reason}: {message_en}" + (f" (field {field})" if field else ""))
        self.reason = reason
        self.message_en = message_en
        self.message_de = message_de
        self.field = field


def from_validation_error(
    error: ValidationError, *, prefix: str = "", quotable: frozenset[str] | None = None
) -> PermanentError:
    """Turn pydantic's first error into a PermanentError naming the field and the rule only.

    `quotable`: the top-level fields whose validator messages may be repeated; for any other
    field (identifiers) only the error type is given, since some validators (e-mail) quote
    parts of the value. None: every field's message may be repeated.
    """
    first = error.errors(include_url=False, include_input=False, include_context=False)[0]
    field = ".".join(str(part) for part in (prefix, *first["loc"]) if part != "")
    top = str(first["loc"][0]) if first["loc"] else ""
    if quotable is not None and top not in quotable:
        first = {**first, "msg": f"not a valid value ({first['type']})"}
    if first["type"] == "json_invalid":
        return PermanentError(
            ReasonCode.MALFORMED_JSON,
            message_en="The message is not valid JSON.",
            message_de="Die Nachricht ist kein gültiges JSON.",
        )
    if first["type"] == "extra_forbidden":
        return PermanentError(
            ReasonCode.UNKNOWN_FIELD,
            field=field,
            message_en=f"Field '{field}' is not part of this command.",
            message_de=f"Das Feld '{field}' gehört nicht zu diesem Befehl.",
        )
    if first["type"] == "missing":
        return PermanentError(
            ReasonCode.MISSING_FIELD,
            field=field,
            message_en=f"Field '{field}' is required.",
            message_de=f"Das Feld '{field}' ist erforderlich.",
        )
    return PermanentError(
        ReasonCode.INVALID_FIELD,
        field=field,
        message_en=f"Field '{field}' is invalid: {first['msg']}.",
        message_de=f"Das Feld '{field}' ist ungültig ({first['type']}).",
    )


TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # connection refused or reset, by PostgreSQL or Kafka
    asyncio.TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.SerializationError,
    asyncpg.DeadlockDetectedError,
    asyncpg.InterfaceError,  # e.g. the pool was closed under us during shutdown
    KafkaConnectionError,
    KafkaTimeoutError,
)


def is_transient(error: BaseException) -> bool:
    """True when retrying the same message later may succeed."""
    # asyncpg's client-side DataError (a value it cannot encode) subclasses InterfaceError
    # but fails the same way every time.
    if isinstance(error, asyncpg.exceptions.DataError):
        return False
    return isinstance(error, TRANSIENT_ERRORS)
