"""The shape of a record as the consumers see it: what our code reads of aiokafka's records.

A `Protocol` rather than aiokafka's generic `ConsumerRecord[bytes, bytes]`, so handlers name
exactly what they use and tests can hand them a plain dataclass of the same shape.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class KafkaRecord(Protocol):
    """One consumed Kafka record: where it came from and its raw bytes."""

    @property
    def topic(self) -> str:
        """The topic it was read from."""

    @property
    def partition(self) -> int:
        """Its partition."""

    @property
    def offset(self) -> int:
        """Its offset within the partition."""

    @property
    def key(self) -> bytes | None:
        """The raw key, if any."""

    @property
    def value(self) -> bytes | None:
        """The raw value (None for a tombstone)."""

    @property
    def headers(self) -> Sequence[tuple[str, bytes]]:
        """The record's headers."""
