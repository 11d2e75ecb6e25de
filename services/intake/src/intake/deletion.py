"""Intake's scheduled passes: what the calendar decides, without anyone sending a command.

- The deletion schedule: identifiers are erased when the deletion plan's period has run
  out (after the exit; after the entry when no exit was recorded), unless a legal hold is
  set, exactly as an erasure on request does (key destroyed in the key store first, then
  the ciphertext; an announcement on `intake.events` for a registered person; the
  erasure's record; an audit entry).
- Consent ends: a consent that expired, or a coordinator's override that ended, unlinks
  the providers it covered and is announced (`participant.consent-changed.v1`), so the
  other services revoke their access too.

A pass works person by person, one transaction each. The due rows are locked with SKIP
LOCKED, so several intake instances can run the passes at once without acting on one
person twice or waiting for each other.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date
from functools import partial

import asyncpg

from durchstarten.logging import get_logger
from durchstarten.periodic import Periodic
from durchstarten.retention import DeletionPeriods
from intake import repository
from intake.handlers import IntakeHandlers

log = get_logger(__name__)

Due = Callable[[asyncpg.Connection, date, int], Awaitable[list[uuid.UUID]]]
Act = Callable[[asyncpg.Connection, uuid.UUID], Awaitable[bool | None]]


class ScheduledPass:
    """Acts on everyone `due` finds: on a timer, and on demand (`run_once`)."""

    def __init__(
        self,
        name: str,
        handlers: IntakeHandlers,
        *,
        due: Due,
        act: Act,
        interval_s: float,
        batch_size: int = 1,
    ) -> None:
        """`due(connection, today, limit)` finds and locks; `act(connection, pid)` acts.

        One person per transaction by default: an erasure destroys the key in the key
        store (committed at once) before its transaction here commits, so a batch rolled
        back would leave the people before the failure unreadable but unannounced.
        """
        self.name = name
        self._handlers = handlers
        self._due = due
        self._act = act
        self._batch_size = batch_size
        self._task = Periodic(name, self.run_once, interval_s=interval_s)

    async def start(self) -> None:
        """Start the background task; its first pass runs at once."""
        await self._task.start()

    async def stop(self) -> None:
        """Stop the background task (a batch under way rolls back and is done next time)."""
        await self._task.stop()

    async def run_once(self) -> int:
        """One pass over everyone due; how many were acted on."""
        done = 0
        while True:
            due, acted = await self._batch()
            done += acted
            if due < self._batch_size:
                break
        if done:
            log.info("scheduled pass done", task=self.name, people=done)
        return done

    async def _batch(self) -> tuple[int, int]:
        """One transaction: (how many were due, how many of them were acted on)."""
        async with self._handlers.runtime.pool.acquire() as connection, connection.transaction():
            due = await self._due(connection, self._handlers.clock.today(), self._batch_size)
            acted = [await self._act(connection, pid) for pid in due]
        return len(due), sum(1 for a in acted if a is not False)


def deletion_schedule(
    handlers: IntakeHandlers,
    *,
    periods: DeletionPeriods,
    interval_s: float,
    batch_size: int = 1,
) -> ScheduledPass:
    """Erase identifiers past the deletion plan's period (unless under a legal hold)."""

    async def due(connection: asyncpg.Connection, today: date, limit: int) -> list[uuid.UUID]:
        return await repository.deletion_due(connection, today=today, periods=periods, limit=limit)

    return ScheduledPass(
        "deletion-schedule",
        handlers,
        due=due,
        act=handlers.erase_when_due,
        interval_s=interval_s,
        batch_size=batch_size,
    )


def consent_ends(handlers: IntakeHandlers, *, interval_s: float) -> ScheduledPass:
    """Announce expired consents and ended overrides (and unlink whom they covered)."""

    async def due(connection: asyncpg.Connection, today: date, limit: int) -> list[uuid.UUID]:
        return await repository.consent_changes_due(connection, today=today, limit=limit)

    return ScheduledPass(
        "consent-ends",
        handlers,
        due=due,
        act=partial(_announce, handlers),
        interval_s=interval_s,
    )


async def _announce(
    handlers: IntakeHandlers, connection: asyncpg.Connection, pid: uuid.UUID
) -> bool:
    await handlers.announce_consent_ends(connection, pid)
    return True
