"""asyncpg connection pools with the project's type codecs."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextvars import ContextVar

import asyncpg


async def _init_connection(connection: asyncpg.Connection) -> None:
    """Decode json/jsonb columns into Python values, as every repository expects."""
    for type_name in ("json", "jsonb"):
        await connection.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10) -> asyncpg.Pool:
    """Open a pool to `dsn`; the caller closes it."""
    pool: asyncpg.Pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        command_timeout=60,
    )
    return pool


class _Lease:
    """A connection taken from the pool on first use, for one task's stretch of work."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.task = asyncio.current_task()
        self.connection: asyncpg.Connection | None = None


_leased: ContextVar[_Lease | None] = ContextVar("durchstarten_leased_connection", default=None)


@contextlib.asynccontextmanager
async def lease(pool: asyncpg.Pool) -> AsyncIterator[None]:
    """Let this task keep one connection for a stretch of work (a consumer's batch).

    Inside, `connection_from(pool)` hands out the same connection every time: each record
    still runs in a transaction of its own, but the pool's acquire and release (the release
    sends a reset query, a round trip of its own) are paid once per batch, not per record.
    The connection is taken on first use, inside the caller's retries, so a database that
    is away is retried like any other transient fault.
    """
    held = _Lease(pool)
    token = _leased.set(held)
    try:
        yield
    finally:
        _leased.reset(token)
        if held.connection is not None:
            await pool.release(held.connection)


def _usable(connection: asyncpg.Connection) -> bool:
    """Whether a leased connection still talks to the server.

    When the server closes a pooled connection (a restart, a terminated backend), asyncpg
    hands it back to its pool at once and detaches the proxy we hold: every call on the
    proxy, `is_closed()` included, then raises InterfaceError. Left unhandled, that error
    looked transient, so each retry met the same dead proxy until the budget ran out.
    """
    try:
        return not connection.is_closed()
    except asyncpg.InterfaceError:
        return False


@contextlib.asynccontextmanager
async def connection_from(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """The connection leased by this task, if any; otherwise one from `pool` for this block.

    The lease is honoured only in the task that took it: a task started inside the lease
    inherits the context variable, and must not share the connection concurrently.
    """
    held = _leased.get()
    if held is None or held.pool is not pool or held.task is not asyncio.current_task():
        async with pool.acquire() as connection:
            yield connection
        return
    if held.connection is not None and not _usable(held.connection):
        await pool.release(held.connection)  # a no-op if asyncpg took it back already
        held.connection = None
    if held.connection is None:
        held.connection = await pool.acquire()
    if held.connection.is_in_transaction():
        msg = "the leased connection is already in a transaction: nested use"
        raise RuntimeError(msg)
    yield held.connection
