"""Idempotent consumers: what was processed is recorded in the same transaction as its effect.

Two guards, both inside the caller's transaction:
- per-partition checkpoints skip offsets already applied (a replay after a crash or a lost
  Kafka commit);
- the message id catches the same event published again at a new offset (the outbox relay
  re-sends a batch whose acknowledgement it did not see).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import asyncpg

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.messaging.records import KafkaRecord

SQL = SqlFiles(Path(__file__).parent / "sql")


async def first_time(connection: asyncpg.Connection, consumer: str, message_id: str) -> bool:
    """Record `message_id` for `consumer`; False when it was processed before."""
    return await connection.fetchval(SQL["inbox_record"], consumer, message_id) is not None


async def first_times(
    connection: asyncpg.Connection, consumer: str, message_ids: Sequence[str]
) -> set[str]:
    """Record many message ids at once; return those never seen before."""
    rows = await connection.fetch(SQL["inbox_record_many"], consumer, list(message_ids))
    return {row["message_id"] for row in rows}


class Position(NamedTuple):
    """Where one record sits in Kafka (a tuple: made for every record of every batch)."""

    topic: str
    partition: int
    offset: int


async def claim_new_offsets(
    connection: asyncpg.Connection, consumer: str, positions: Sequence[Position]
) -> set[Position]:
    """Advance the checkpoints past a batch; return the positions not applied before.

    The checkpoint rows stay locked until the caller's transaction ends, so two consumers
    that briefly share a partition during a rebalance apply it one after the other.
    """
    partitions = sorted({(p.topic, p.partition) for p in positions})
    topics = [topic for topic, _ in partitions]
    numbers = [number for _, number in partitions]
    await connection.execute(SQL["checkpoints_ensure"], consumer, topics, numbers)
    rows = await connection.fetch(SQL["checkpoints_select"], consumer, topics, numbers)
    next_offsets: dict[tuple[str, int], int] = {
        (row["topic"], row["partition"]): row["next_offset"] for row in rows
    }
    fresh = {p for p in positions if p.offset >= next_offsets[(p.topic, p.partition)]}
    advanced: dict[tuple[str, int], int] = {}
    for p in positions:
        key = (p.topic, p.partition)
        advanced[key] = max(advanced.get(key, 0), p.offset + 1)
    await connection.execute(
        SQL["checkpoints_advance"],
        consumer,
        [key[0] for key in advanced],
        [key[1] for key in advanced],
        list(advanced.values()),
    )
    return fresh


def position_of(record: KafkaRecord) -> Position:
    """The Position of a consumed record."""
    return Position(record.topic, record.partition, record.offset)
