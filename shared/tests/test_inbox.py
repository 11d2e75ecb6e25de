"""Idempotent-consumer guards against the real PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from durchstarten.db.migrate import PLATFORM_MIGRATIONS, migrate
from durchstarten.messaging.inbox import Position, claim_new_offsets, first_time, first_times

pytestmark = pytest.mark.integration


@pytest_asyncio.fixture
async def connection(fresh_database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(fresh_database_url)
    await migrate(connection, {"platform": PLATFORM_MIGRATIONS})
    yield connection
    await connection.close()


async def test_a_message_id_is_new_only_once_per_consumer(connection: asyncpg.Connection) -> None:
    assert await first_time(connection, "a", "m-1")
    assert not await first_time(connection, "a", "m-1")
    assert await first_time(connection, "b", "m-1")
    assert await first_times(connection, "a", ["m-1", "m-2", "m-3"]) == {"m-2", "m-3"}


async def test_a_message_id_recorded_in_a_rolled_back_transaction_is_not_kept(
    connection: asyncpg.Connection,
) -> None:
    tx = connection.transaction()
    await tx.start()
    assert await first_time(connection, "a", "m-9")
    await tx.rollback()
    assert await first_time(connection, "a", "m-9")


def positions(topic: str, partition: int, offsets: range) -> list[Position]:
    return [Position(topic, partition, offset) for offset in offsets]


async def test_checkpoints_skip_offsets_already_applied(connection: asyncpg.Connection) -> None:
    batch = positions("t", 0, range(5)) + positions("t", 1, range(2))
    assert await claim_new_offsets(connection, "p", batch) == set(batch)
    assert await claim_new_offsets(connection, "p", batch) == set()
    overlapping = positions("t", 0, range(3, 8))
    assert await claim_new_offsets(connection, "p", overlapping) == set(
        positions("t", 0, range(5, 8))
    )
    # another projection keeps its own checkpoints
    assert await claim_new_offsets(connection, "q", batch) == set(batch)
    rows = await connection.fetch(
        "SELECT partition, next_offset FROM consumer_checkpoints WHERE consumer = 'p'"
        " ORDER BY partition"
    )
    assert [(r["partition"], r["next_offset"]) for r in rows] == [(0, 8), (1, 2)]
