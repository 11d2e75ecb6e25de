"""Dead letters: a message that cannot be processed is parked on `<topic>.dlq`, never dropped.

Headers name the source topic, partition, offset, consumer, error class and a message; they
never carry payload fragments. The value is the original bytes, untouched, so an operator can
fix and replay it.
"""

from __future__ import annotations

from typing import Any

from faststream.kafka import KafkaBroker

from durchstarten.events.topics import dead_letters
from durchstarten.logging import get_logger

log = get_logger(__name__)


class DeadLetters:
    """Publishes failed messages to their topic's dead-letter topic and waits for the ack."""

    def __init__(self, broker: KafkaBroker, *, consumer: str) -> None:
        """`consumer` names the consumer group, so operators know who could not process it."""
        self._broker = broker
        self._consumer = consumer

    async def park(self, record: Any, *, error_class: str, error_message: str) -> None:
        """Publish `record` (an aiokafka ConsumerRecord) to its dead-letter topic."""
        topic = dead_letters(record.topic)
        headers = {
            "dlq-source-topic": record.topic,
            "dlq-source-partition": str(record.partition),
            "dlq-source-offset": str(record.offset),
            "dlq-consumer": self._consumer,
            "dlq-error-class": error_class,
            "dlq-error-message": error_message[:500],
        }
        await self._broker.publish(
            record.value or b"",
            topic,
            key=record.key,
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
