"""Reading whole topics without a consumer group: a rebuild, an access export.

A consumer made with topics and no group is assigned every partition of them once the
first metadata response arrives; until then it has none, and seeking fails.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition

ASSIGNMENT_TIMEOUT_S = 30.0


async def all_partitions(
    consumer: AIOKafkaConsumer, topics: Iterable[str], *, timeout_s: float = ASSIGNMENT_TIMEOUT_S
) -> list[TopicPartition]:
    """Every partition of `topics` once assigned to the group-less consumer, sorted.

    TimeoutError when the broker has not told their partitions within `timeout_s` (a topic
    missing, or not described to this principal).
    """
    wanted = set(topics)
    deadline = time.monotonic() + timeout_s
    while {tp.topic for tp in consumer.assignment()} != wanted:
        if time.monotonic() > deadline:
            msg = f"the partitions of {sorted(wanted)} were not assigned"
            raise TimeoutError(msg)
        await asyncio.sleep(0.05)  # the assignment follows the first metadata response
    return sorted(consumer.assignment())
