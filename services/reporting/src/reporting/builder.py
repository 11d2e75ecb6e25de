"""Releases built in a process of their own, beside the API instance that serves them.

Building a statewide release is tens of seconds of Python (reading the facts is quick;
building the report bodies, the attacker's model and the pattern is not). Built in a
worker thread of the serving process, it shares that process's interpreter lock with
the event loop: every socket read, write and query of a request waits for the builder to
let go of the lock, and during ingest (the data changes all the time, so a release is
always being built) each answer took seconds. Built in a child process, it shares only
the machine's cores, which the operating system divides fairly.

- One child per API instance, started with the first release and kept (its imports cost
  a second or two). It opens a pool of its own, reads through the same lenses and uses
  the same pattern store (`reporting.patterns`): what it returns is exactly what
  `compute_statewide` returns in the serving process, minus what serving never reads
  (the joint model, the publications with their truths: they stay in the child, and
  the audit, which needs them, always computes in its own process).
- A child that dies (killed, out of memory) fails the computation it was doing; the next
  computation starts a new child. The release served until then stays served.
- The child is stopped with the service, and ends by itself when its parent is gone
  (killed: no `finally` ran).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace
from datetime import date

import structlog

from durchstarten.counties import Counties
from durchstarten.db.pool import create_pool
from durchstarten.logging import configure_logging
from reporting.audit import LinearModel, ProtectionRule
from reporting.patterns import PatternStore
from reporting.statewide import StateRelease, compute_statewide

log = structlog.get_logger()


@dataclass(frozen=True)
class BuildOrder:
    """What a child needs to build one release (sent to it by pickling)."""

    database_url: str
    counties: Counties
    rule: ProtectionRule
    today: date
    pattern_wait_s: float
    """0: no pattern store (`reporting.patterns`)."""
    afresh: bool = False
    """Choose the pattern whatever is stored (an operator's recomputation)."""


def served(release: StateRelease) -> StateRelease:
    """`release` without what serving never reads: the joint model and the publications.

    What remains is the report bodies, the pattern's positions and the summaries; the
    truths behind them stay where they were computed.
    """
    counties = {
        key: replace(county, collection=replace(county.collection, reports=(), county_pages=()))
        for key, county in release.counties.items()
    }
    return replace(release, counties=counties, model=LinearModel())


async def _build(order: BuildOrder) -> StateRelease:
    pool = await create_pool(order.database_url, min_size=1, max_size=2)
    try:
        release = await compute_statewide(
            pool,
            counties=order.counties,
            rule=order.rule,
            today=order.today,
            patterns=PatternStore(pool, wait_s=order.pattern_wait_s)
            if order.pattern_wait_s > 0
            else None,
            afresh=order.afresh,
        )
    finally:
        await pool.close()
    return served(release)


def build(order: BuildOrder) -> StateRelease:
    """Build one release (in the child: a loop of its own for each)."""
    return asyncio.run(_build(order))


def _start_child(service: str, level: str, fmt: str, parent: int) -> None:
    configure_logging(service=f"{service}-builder", level=level, fmt=fmt)  # type: ignore[arg-type]
    threading.Thread(target=_follow, args=(parent,), name="follow-parent", daemon=True).start()


def _follow(parent: int) -> None:
    """End the child soon after its parent.

    A killed API instance leaves no builder behind, holding connections and perhaps a
    pattern's lock until its build is done.
    """
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)  # nothing of a build is worth keeping without the process it was for


PARENT_CHECK_S = 0.5
"""How often the child looks whether its parent is still there."""


class ReleaseBuilder:
    """A child process that builds releases, one at a time (see the module's docstring)."""

    def __init__(self, *, service: str, log_level: str, log_format: str) -> None:
        """The child is started with the first `build` and logs like its parent."""
        self._initargs = (service, log_level, log_format, os.getpid())
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    def _child(self) -> ProcessPoolExecutor:
        if self._closed:
            msg = "the release builder is closed (the service is stopping)"
            raise RuntimeError(msg)
        if self._executor is None:
            # spawn: a fresh interpreter, never a fork of a process with threads and an
            # event loop (a fork copies their locks in whatever state they are).
            self._executor = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_child,
                initargs=self._initargs,
            )
        return self._executor

    async def build(self, order: BuildOrder) -> StateRelease:
        """A release built by the child; a child that died is replaced for the next one."""
        loop = asyncio.get_running_loop()
        executor = self._child()
        try:
            future = loop.run_in_executor(executor, build, order)
        except BrokenProcessPool:
            # The child died while idle (killed, out of memory): this build is not lost
            # with it, a new child takes it.
            log.warning("release-builder-replaced")
            self._forget(executor)
            executor = self._child()
            future = loop.run_in_executor(executor, build, order)
        try:
            return await future
        except BrokenProcessPool:
            if not self._closed:
                log.error("release-builder-died")
            self._forget(executor)
            raise

    def _forget(self, executor: ProcessPoolExecutor) -> None:
        if self._executor is executor:
            self._executor = None
        executor.shutdown(wait=False, cancel_futures=True)

    def children(self) -> list[int]:
        """The process id of the child, if it runs (for operators and tests)."""
        executor = self._executor
        processes = {} if executor is None else getattr(executor, "_processes", None) or {}
        return [process.pid for process in processes.values() if process.pid is not None]

    def close(self) -> None:
        """Stop the child (a build under way is abandoned); no build starts after this."""
        self._closed = True
        executor, self._executor = self._executor, None
        if executor is not None:
            for process in list(getattr(executor, "_processes", {}).values()):
                process.terminate()  # a build may take minutes: the service stops now
            executor.shutdown(wait=True, cancel_futures=True)


__all__ = ["BuildOrder", "ReleaseBuilder", "build", "served"]
