"""A consumer group's lag from its committed offsets: what the group as a whole has not read.

A consumer's own position covers only the partitions it holds now, and only while it runs.
The committed offsets are the group's record of work finished, whichever member did it: a
dead or frozen member's partitions show their lag here, and a held command knows whether
the service has read everything published so far, on every instance together.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition


async def group_lag(consumer: AIOKafkaConsumer, topics: Iterable[str]) -> dict[TopicPartition, int]:
    """Per partition of `topics`: end offset minus the offset committed by `consumer`'s group.

    A partition the group never committed counts from its start (the group will read it
    from the earliest offset). KeyError when the broker has not described a topic yet.
    """
    partitions = []
    for topic in topics:
        numbers = consumer.partitions_for_topic(topic)  # from the consumer's metadata
        if numbers is None:
            raise KeyError(topic)
        partitions += [TopicPartition(topic, number) for number in sorted(numbers)]
    ends = await consumer.end_offsets(partitions)
    starts = await consumer.beginning_offsets(partitions)
    lag: dict[TopicPartition, int] = {}
    for tp in partitions:
        committed = await consumer.committed(tp)
        done = starts[tp] if committed is None else committed
        lag[tp] = max(0, ends[tp] - done)
    return lag
