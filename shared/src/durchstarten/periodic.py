"""A background task that runs one pass of work on a timer, and sooner when woken.

A failing pass is logged (by error class only: a message may quote data) and the next one
runs on time: a database that is away for a while stops the work, never the service.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from durchstarten.logging import get_logger
from durchstarten.messaging.errors import is_transient

log = get_logger(__name__)


class Periodic:
    """Runs `work` every `interval_s` seconds, and soon after `wake()`, until stopped."""

    def __init__(
        self, name: str, work: Callable[[], Awaitable[object]], *, interval_s: float
    ) -> None:
        """A task called `name` (in logs and asyncio's task list); not started yet."""
        self.name = name
        self._work = work
        self._interval_s = interval_s
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        """Run a pass soon, without waiting for the timer."""
        self._wake.set()

    async def start(self) -> None:
        """Start the background task (the first pass runs at once)."""
        self._wake.set()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        """Stop the background task; a pass under way is cancelled (its transaction rolls back)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._interval_s)
            self._wake.clear()
            try:
                await self._work()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log_method = log.warning if is_transient(error) else log.exception
                log_method("periodic work failed", task=self.name, error_class=type(error).__name__)
