"""Intake's deletion schedule: identifiers are erased when the deletion plan's period ends.

The plan's vault rule gives the periods (after the exit; after the entry when no exit was
recorded). A pass erases, batch by batch and one transaction per batch, everyone past
their date and under no legal hold, exactly as an erasure on request does (key destroyed in
the key store first, then the ciphertext; an announcement on `intake.events` for a
registered person; the erasure's record; an audit entry). The due rows are locked with
SKIP LOCKED, so several intake instances can run the schedule at once without erasing one
person twice or waiting for each other.
"""

from __future__ import annotations

from datetime import timedelta

from durchstarten.logging import get_logger
from durchstarten.periodic import Periodic
from intake import repository
from intake.handlers import IntakeHandlers

log = get_logger(__name__)


class DeletionSchedule:
    """Erases what the plan no longer keeps: on a timer, and on demand (`run_once`)."""

    def __init__(
        self,
        handlers: IntakeHandlers,
        *,
        after_exit: timedelta,
        without_exit: timedelta,
        interval_s: float,
        batch_size: int = 100,
    ) -> None:
        """Erase through `handlers` (their clock says what today is) every `interval_s`."""
        self._handlers = handlers
        self._after_exit = after_exit
        self._without_exit = without_exit
        self._batch_size = batch_size
        self._task = Periodic("deletion-schedule", self.run_once, interval_s=interval_s)

    async def start(self) -> None:
        """Start the background task; its first pass runs at once."""
        await self._task.start()

    async def stop(self) -> None:
        """Stop the background task (a batch under way rolls back and is done next time)."""
        await self._task.stop()

    async def run_once(self) -> int:
        """One pass: erase everyone past their deletion date; return how many were erased."""
        erased = 0
        while True:
            due, done = await self._erase_batch()
            erased += done
            if due < self._batch_size:
                break
        if erased:
            log.info("deletion schedule erased identifiers", erased=erased)
        return erased

    async def _erase_batch(self) -> tuple[int, int]:
        """One transaction: (how many were due, how many of them were erased)."""
        runtime = self._handlers.runtime
        async with runtime.pool.acquire() as connection, connection.transaction():
            due = await repository.deletion_due(
                connection,
                today=self._handlers.clock.today(),
                after_exit=self._after_exit,
                without_exit=self._without_exit,
                limit=self._batch_size,
            )
            erased = [await self._handlers.erase_when_due(connection, pid) for pid in due]
        return len(due), sum(erased)
