"""A consumer's batch keeps one connection: leased per task, never shared across tasks."""

from __future__ import annotations

import asyncio

import pytest

from durchstarten.db.pool import connection_from, create_pool, lease

pytestmark = pytest.mark.integration


async def test_a_lease_hands_one_connection_to_its_task_only(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, min_size=0, max_size=4)
    try:
        async with lease(pool):
            pids = []
            for _ in range(3):
                async with connection_from(pool) as connection, connection.transaction():
                    pids.append(await connection.fetchval("SELECT pg_backend_pid()"))
            assert len(set(pids)) == 1  # every transaction of the batch on one connection

            async def elsewhere() -> int:
                async with connection_from(pool) as connection:
                    pid: int = await connection.fetchval("SELECT pg_backend_pid()")
                    return pid

            # A task started inside the lease inherits the context, not the connection.
            assert await asyncio.create_task(elsewhere()) != pids[0]

            async with connection_from(pool) as connection, connection.transaction():
                with pytest.raises(RuntimeError, match="nested use"):
                    async with connection_from(pool):
                        pass
        assert pool.get_idle_size() == pool.get_size()  # the leased connection went back
        async with connection_from(pool) as connection:  # no lease: the pool as usual
            assert await connection.fetchval("SELECT 1") == 1
    finally:
        await pool.close()


async def test_a_lease_takes_its_connection_only_when_first_used(fresh_database_url: str) -> None:
    pool = await create_pool(fresh_database_url, min_size=0, max_size=2)
    try:
        async with lease(pool):
            assert pool.get_size() == 0  # nothing taken yet: a database that is away
            # is met inside the caller's retries, not when the batch starts
        assert pool.get_size() == 0
    finally:
        await pool.close()
