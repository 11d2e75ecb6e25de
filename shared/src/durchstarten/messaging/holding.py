"""Held commands: a command about something not known yet waits instead of failing.

Events from another service may arrive after a provider's command that depends on them (a
case opened for a participant whose registration intake has not delivered yet). Such a
command is stored with a deadline, in the same transaction that records it as seen, and is
retried in arrival order whenever new knowledge arrives (and on a timer). When the deadline
passes it is rejected after all; nothing is lost, nothing blocks the partition.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.logging import get_logger
from durchstarten.messaging.errors import is_transient
from durchstarten.periodic import Periodic

log = get_logger(__name__)
SQL = SqlFiles(Path(__file__).parent / "sql")


@dataclass(frozen=True)
class Held:
    """A held command as stored."""

    id: int
    provider: str
    dedupe_key: str
    actor: dict[str, Any]
    envelope: dict[str, Any]
    source: dict[str, Any] | None
    waiting_for: str
    held_at: datetime
    hold_until: datetime


async def hold(
    connection: asyncpg.Connection,
    *,
    consumer: str,
    provider: str,
    dedupe_key: str,
    actor: dict[str, Any],
    envelope: dict[str, Any],
    source: dict[str, Any] | None,
    waiting_for: str,
    hold_until: datetime,
) -> None:
    """Store a command to retry later (in the caller's transaction)."""
    await connection.execute(
        SQL["held_add"],
        consumer,
        provider,
        dedupe_key,
        actor,
        json.loads(json.dumps(envelope, default=str)),
        source,
        waiting_for,
        hold_until,
    )


async def held_count(pool: asyncpg.Pool, consumer: str) -> int:
    """How many commands wait (a metric)."""
    async with pool.acquire() as connection:
        count: int = await connection.fetchval(SQL["held_count"], consumer)
        return count


Retry = Callable[[asyncpg.Connection, Held], Awaitable[bool]]
"""Try a held command again in the given transaction; True when it is finished with
(carried out or rejected), False when it must keep waiting."""


class HeldCommandRetrier:
    """Retries held commands in arrival order, when woken and on a timer."""

    def __init__(
        self,
        pool: Callable[[], asyncpg.Pool],
        consumer: str,
        retry: Retry,
        *,
        interval_s: float = 2.0,
    ) -> None:
        """Retry the held commands of `consumer` through `retry`.

        `pool()` gives the connection pool, which opens only when the service starts.
        """
        self._pool = pool
        self._consumer = consumer
        self._retry = retry
        self._task = Periodic(f"held-commands-{consumer}", self.retry_all, interval_s=interval_s)

    def wake(self) -> None:
        """Something new is known: try the held commands soon."""
        self._task.wake()

    async def start(self) -> None:
        """Start the background task."""
        await self._task.start()

    async def stop(self) -> None:
        """Stop the background task."""
        await self._task.stop()

    async def retry_all(self) -> int:
        """One pass over every held command, oldest first; return how many finished."""
        finished = 0
        last_id = 0
        while True:
            try:
                async with self._pool().acquire() as connection, connection.transaction():
                    row = await connection.fetchrow(SQL["held_next"], self._consumer, last_id)
                    if row is None:
                        return finished
                    held = Held(**dict(row))
                    last_id = held.id
                    if await self._retry(connection, held):
                        await connection.execute(SQL["held_remove"], held.id)
                        finished += 1
            except Exception as error:
                if is_transient(error) or last_id == 0:
                    raise  # the database is away: the next pass starts over
                # One command that fails for good must not stop those behind it; it stays
                # held (and logged) until its hold expires or an operator looks at it.
                log.error(  # the class only: the text may quote data
                    "held command failed", held_id=last_id, error_class=type(error).__name__
                )
