"""A held command expires by what the service has read, and by the deletion plan at the latest.

After an outage the registration a command waits for is most likely still unread: a wall
clock alone would reject valid commands `unknown-participant` while it waits in Kafka.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from durchstarten.messaging.command_service import expiry
from durchstarten.messaging.holding import Held
from durchstarten.messaging.lag import group_lag
from durchstarten_deploy.stack import Stack
from durchstarten_deploy.testing import new_topic

HELD_AT = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def held(wait: timedelta) -> Held:
    return Held(
        id=1,
        provider="p",
        dedupe_key="k",
        actor={},
        envelope={},
        source=None,
        waiting_for="participant:x",
        held_at=HELD_AT,
        hold_until=HELD_AT + wait,
    )


@pytest.mark.parametrize(
    ("after", "due"),
    [
        (timedelta(minutes=4), "not-yet"),
        (timedelta(minutes=5), "once-read-up"),
        (timedelta(minutes=59), "once-read-up"),
        (timedelta(hours=1), "now"),
    ],
)
def test_a_hold_ends_when_read_up_and_at_the_plans_limit_at_the_latest(
    after: timedelta, due: str
) -> None:
    assert (
        expiry(held(timedelta(minutes=5)), now=HELD_AT + after, at_most=timedelta(hours=1)) == due
    )


@pytest_asyncio.fixture
async def topic(stack: Stack) -> str:
    return await new_topic(stack, "lag-test", partitions=2)


@pytest_asyncio.fixture
async def group_consumer(stack: Stack, topic: str) -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        group_id=f"lag-test-{uuid.uuid4().hex[:8]}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        **stack.access.options(),
    )
    await consumer.start()
    # Assigned by hand, so it may commit; metadata for every topic it may describe.
    consumer.assign([TopicPartition(topic, 0), TopicPartition(topic, 1)])
    await consumer.topics()
    yield consumer
    await consumer.stop()


@pytest.mark.integration
async def test_lag_counts_what_the_group_committed_not_what_a_member_holds(
    stack: Stack, topic: str, group_consumer: AIOKafkaConsumer
) -> None:
    producer = AIOKafkaProducer(acks="all", enable_idempotence=True, **stack.access.options())
    await producer.start()
    try:
        for number in range(3):
            await producer.send_and_wait(topic, b"x", partition=number % 2)
    finally:
        await producer.stop()
    zero, one = TopicPartition(topic, 0), TopicPartition(topic, 1)
    # Nothing committed: the group has everything ahead of it (as a dead member's would).
    assert await group_lag(group_consumer, [topic]) == {zero: 2, one: 1}
    await group_consumer.commit({zero: 2})
    assert await group_lag(group_consumer, [topic]) == {zero: 0, one: 1}
    await group_consumer.commit({one: 1})
    assert not any((await group_lag(group_consumer, [topic])).values())


@pytest.mark.integration
async def test_an_undescribed_topic_is_not_taken_for_no_lag(
    group_consumer: AIOKafkaConsumer,
) -> None:
    with pytest.raises(KeyError):
        await group_lag(group_consumer, ["no-such-topic-at-all"])
