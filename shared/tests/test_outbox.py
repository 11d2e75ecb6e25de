"""The transactional outbox and its relay against the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker
from pydantic import SecretStr

from durchstarten.db.migrate import PLATFORM_MIGRATIONS, migrate
from durchstarten.db.pool import create_pool
from durchstarten.events import CloudEvent
from durchstarten.messaging.broker import create_broker
from durchstarten.messaging.outbox import PARK_AFTER_ATTEMPTS, OutboxRelay, backlog, enqueue
from durchstarten.settings import ServiceSettings
from durchstarten_deploy.stack import Stack
from durchstarten_deploy.testing import new_topic

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def pool(fresh_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(fresh_database_url)
    async with pool.acquire() as connection:
        await migrate(connection, {"platform": PLATFORM_MIGRATIONS})
    yield pool
    await pool.close()


@pytest_asyncio.fixture
async def broker(stack: Stack, fresh_database_url: str) -> AsyncIterator[KafkaBroker]:
    settings = ServiceSettings(database_url=SecretStr(fresh_database_url), **stack.kafka_settings())
    broker = create_broker(settings, service="outbox-test")
    await broker.start()
    yield broker
    await broker.stop()


@pytest_asyncio.fixture
async def topic(stack: Stack) -> str:
    return await new_topic(stack, "outbox-test")


def event(number: int) -> CloudEvent:
    return CloudEvent.model_validate(
        {
            "id": str(uuid.uuid4()),
            "source": "/services/test",
            "type": "thing.happened.v1",
            "time": "2022-01-01T00:00:00Z",
            "data": {"number": number},
        }
    )


async def read_all(stack: Stack, topic: str, expected: int) -> list[dict[str, Any]]:
    consumer = AIOKafkaConsumer(enable_auto_commit=False, **stack.access.options())
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.seek_to_beginning()
        values: list[dict[str, Any]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 180  # generous: it only bounds how long a failure takes
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for records in batch.values():
                values += [json.loads(r.value) for r in records]
            if len(values) >= expected:
                break
        # one more short poll: anything beyond `expected` would be a duplicate
        batch = await consumer.getmany(timeout_ms=300)
        for records in batch.values():
            values += [json.loads(r.value) for r in records]
        return values
    finally:
        await consumer.stop()


async def test_relay_publishes_committed_rows_in_order_once(
    stack: Stack, pool: asyncpg.Pool, broker: KafkaBroker, topic: str
) -> None:
    events = [event(n) for n in range(25)]
    async with pool.acquire() as connection, connection.transaction():
        for e in events:
            await enqueue(connection, topic, e, key="same-person")
    async with pool.acquire() as connection:
        rolled_back = connection.transaction()
        await rolled_back.start()
        await enqueue(connection, topic, event(999), key="same-person")
        await rolled_back.rollback()
    assert await backlog(pool) == (25, 0)

    relay = OutboxRelay(pool, broker, batch_size=10)
    sent = [await relay.relay_once() for _ in range(4)]
    assert sent == [10, 10, 5, 0]
    assert await backlog(pool) == (0, 0)

    values = await read_all(stack, topic, expected=25)
    assert [v["data"]["number"] for v in values] == list(range(25))
    assert [v["id"] for v in values] == [e.id for e in events]


async def test_a_notification_wakes_the_relay_without_waiting_for_the_poll(
    stack: Stack, pool: asyncpg.Pool, broker: KafkaBroker, topic: str
) -> None:
    relay = OutboxRelay(pool, broker, poll_interval_s=3600)  # polling alone would never do it
    await relay.start()
    try:
        await read_all(stack, topic, expected=0)  # let the relay reach its idle wait
        async with pool.acquire() as connection, connection.transaction():
            await enqueue(connection, topic, event(1), key=None)
        values = await read_all(stack, topic, expected=1)
        assert [v["data"]["number"] for v in values] == [1]
    finally:
        await relay.stop()


async def test_a_row_the_broker_refuses_is_parked_and_the_rest_still_flow(
    stack: Stack, pool: asyncpg.Pool, broker: KafkaBroker, topic: str
) -> None:
    too_large = CloudEvent.model_validate(
        event(0).model_dump() | {"data": {"blob": "x" * 2_000_000}}
    )
    async with pool.acquire() as connection, connection.transaction():
        await enqueue(connection, topic, event(1), key="k")
        await enqueue(connection, topic, too_large, key="k")
        await enqueue(connection, topic, event(2), key="k")
    relay = OutboxRelay(pool, broker, batch_size=10)
    sent = [await relay.relay_once() for _ in range(PARK_AFTER_ATTEMPTS + 1)]
    assert sent == [1] + [0] * (PARK_AFTER_ATTEMPTS - 1) + [1]
    assert await backlog(pool) == (0, 1)
    async with pool.acquire() as connection:
        row = await connection.fetchrow(
            "SELECT attempts, last_error FROM outbox WHERE parked_at IS NOT NULL"
        )
    assert row["attempts"] == PARK_AFTER_ATTEMPTS
    assert row["last_error"] == "MessageSizeTooLargeError"
    values = await read_all(stack, topic, expected=2)
    assert [v["data"]["number"] for v in values] == [1, 2]


class _FrozenBroker:
    """A relay's producer that never returns: the relay stops mid-batch, its connection open.

    From the database's side this is what a SIGSTOPped instance looks like: a session that
    holds the leader lock and sends nothing more. (The fault suite freezes real processes.)
    """

    def __init__(self) -> None:
        self.reached = asyncio.Event()

    async def publish(self, *_args: object, **_kwargs: object) -> None:
        self.reached.set()
        await asyncio.Event().wait()


async def test_a_frozen_leader_loses_its_lease_and_another_relay_takes_over(
    stack: Stack, fresh_database_url: str, pool: asyncpg.Pool, broker: KafkaBroker, topic: str
) -> None:
    events = [event(n) for n in range(5)]
    async with pool.acquire() as connection, connection.transaction():
        for e in events:
            await enqueue(connection, topic, e, key="same-person")
    frozen_pool = await create_pool(fresh_database_url)
    frozen_broker = _FrozenBroker()
    frozen = OutboxRelay(frozen_pool, frozen_broker, lease_s=2)  # type: ignore[arg-type]  # the frozen producer above
    frozen_batch = asyncio.create_task(frozen.relay_once())
    try:
        await frozen_broker.reached.wait()  # it holds the leader lock now
        successor = OutboxRelay(pool, broker)
        assert await successor.relay_once() == 0  # the lease still runs: order is kept

        sent = 0
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120  # bounds a failure only; the lease is 2 s
        while sent == 0 and loop.time() < deadline:
            await asyncio.sleep(0.2)
            sent = await successor.relay_once()
        assert sent == len(events)
        assert await backlog(pool) == (0, 0)
        values = await read_all(stack, topic, expected=len(events))
        assert [v["id"] for v in values] == [e.id for e in events]
    finally:
        frozen_batch.cancel()
        with contextlib.suppress(BaseException):
            await frozen_batch
        frozen_pool.terminate()  # its one connection is the one the server ended
