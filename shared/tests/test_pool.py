"""A consumer's batch keeps one connection: leased per task, never shared across tasks."""

from __future__ import annotations

import asyncio

import asyncpg
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


async def test_a_lease_survives_its_connection_being_closed_by_the_server(
    fresh_database_url: str,
) -> None:
    """A restart or a killed backend: the next use gets a fresh connection, not a dead one."""
    pool = await create_pool(fresh_database_url, min_size=0, max_size=3)
    try:
        async with lease(pool):
            async with connection_from(pool) as connection:
                first = await connection.fetchval("SELECT pg_backend_pid()")
            async with pool.acquire() as other:
                # With a timeout, the call returns once the backend is really gone.
                assert await other.fetchval("SELECT pg_terminate_backend($1, 10000)", first)
            outcomes: list[object] = []
            for _ in range(2):  # the first use may meet the dead socket; the second must not
                try:
                    async with connection_from(pool) as connection:
                        outcomes.append(await connection.fetchval("SELECT pg_backend_pid()"))
                        break
                except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as error:
                    outcomes.append(error)
            second = outcomes[-1]
            assert isinstance(second, int), outcomes
            assert second != first
        assert pool.get_idle_size() == pool.get_size()
    finally:
        await pool.close()
