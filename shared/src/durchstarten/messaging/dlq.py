"""Dead letters: a message that cannot be processed is parked on `<topic>.dlq`, never dropped.

Headers name the source topic, partition, offset, consumer, error class and a message; they
never carry payload fragments. The value is the original bytes, so an operator can fix and
replay it, except on topics that may carry personal identifiers (intake's commands): there a
redactor keeps only coarse fields, since dead letters must hold no direct identifiers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from faststream.kafka import KafkaBroker

from durchstarten.events.topics import dead_letters
from durchstarten.logging import get_logger
from durchstarten.messaging.records import KafkaRecord

log = get_logger(__name__)

Redactor = Callable[[bytes], bytes]


class DeadLetters:
    """Publishes failed messages to their topic's dead-letter topic and waits for the ack."""

    def __init__(
        self, broker: KafkaBroker, *, consumer: str, redactor: Redactor | None = None
    ) -> None:
        """`consumer` names the consumer group, so operators know who could not process it."""
        self._broker = broker
        self._consumer = consumer
        self._redactor = redactor

    async def park(self, record: KafkaRecord, *, error_class: str, error_message: str) -> None:
        """Publish `record` to its dead-letter topic."""
        topic = dead_letters(record.topic)
        headers = {
            "dlq-source-topic": record.topic,
            "dlq-source-partition": str(record.partition),
            "dlq-source-offset": str(record.offset),
            "dlq-consumer": self._consumer,
            "dlq-error-class": error_class,
            "dlq-error-message": error_message[:500],
        }
        value = record.value or b""
        key = record.key
        if self._redactor is not None:
            value = self._redactor(value)
            # A provider's key may be its own reference for the person: key by the source
            # partition instead, which keeps the dead letters of one partition in order.
            key = f"{record.topic}:{record.partition}".encode()
            headers["dlq-redacted"] = "true"
        await self._broker.publish(
            value,
            topic,
            key=key,
            headers=headers,
        )
        log.warning(
            "message dead-lettered",
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            dlq_topic=topic,
            error_class=error_class,
            error=error_message[:500],
        )


REDACTED = "[redacted]"
# Envelope attributes that say what a message was without saying who it was about; any
# other top-level member (extensions, a subject, fields sent outside `data`) is dropped.
_ENVELOPE_KEPT = frozenset({"specversion", "id", "source", "type", "time", "datacontenttype"})


def redact_except(allowed_data_fields: frozenset[str]) -> Redactor:
    """A redactor for command topics that may carry personal identifiers.

    The envelope and the allowed (coarse) data fields are kept so an operator can see what
    failed; every other data value becomes "[redacted]". A value that is not a JSON object
    cannot be inspected and is dropped whole; the provider still holds its original and gets a
    rejection naming the problem.
    """

    def redact(raw: bytes) -> bytes:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return b""
        if not isinstance(body, dict):
            return b""
        kept: dict[str, Any] = {
            name: value
            for name, value in body.items()
            if name in _ENVELOPE_KEPT
            and isinstance(value, str)
            and len(value) <= 200
            and value.isprintable()
        }
        data = body.get("data")
        if isinstance(data, dict):
            kept["data"] = {
                key: value if key in allowed_data_fields else REDACTED
                for key, value in data.items()
            }
        elif data is not None:
            kept["data"] = REDACTED
        return json.dumps(kept).encode()

    return redact
