"""Reports computed a moment ago, shared by every request that asks for the same one.

A report is an aggregate over the whole projection (caseload at a quarter's end counts every
person entered by then), so computing it costs the same whatever the request rate. Official
figures need not be fresher than a second or two: within `ttl_s` a report is computed once
and every request for it gets that result; requests that arrive while the first computation
runs wait for it (single flight). Once a result is older than `ttl_s` it is computed again
in the background while requests keep getting the previous result (stale while
revalidating), so no request waits for a recomputation; a result older than `max_stale_s`
(say, when refreshing keeps failing) is never served. A failed computation is not kept. A
caller that must see the newest state asks for it (`fresh`, from `Cache-Control: no-cache`).

Frozen snapshots never come from here: they compute the report afresh in their own
transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any


@dataclass
class _Entry:
    computed_at: float
    result: asyncio.Future[Any]
    refresh: asyncio.Future[Any] | None = None


class ReportCache:
    """Results by key, fresh for `ttl_s` seconds (0 turns the cache off)."""

    def __init__(
        self,
        ttl_s: float,
        *,
        max_stale_s: float | None = None,
        max_entries: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Keep at most `max_entries` results; `clock` is injectable for tests.

        `max_stale_s` defaults to twice `ttl_s`: no report is served older than that.
        """
        self._ttl_s = ttl_s
        self._max_stale_s = max_stale_s if max_stale_s is not None else 2 * ttl_s
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.computed = 0

    def _start(self, compute: Callable[[], Awaitable[Any]]) -> asyncio.Future[Any]:
        self.computed += 1
        return asyncio.ensure_future(compute())

    async def get(
        self, key: Hashable, compute: Callable[[], Awaitable[Any]], *, fresh: bool = False
    ) -> Any:
        """The result for `key`: a recent one, one being computed, or a new computation.

        `fresh` computes anew whatever is kept (a request's `Cache-Control: no-cache`) and
        keeps that result for the requests after it.
        """
        if self._ttl_s <= 0:
            self.computed += 1
            return await compute()
        now = self._clock()
        entry = self._entries.get(key)
        if (
            fresh
            or entry is None
            or now - entry.computed_at > self._max_stale_s
            or _failed(entry.result)
        ):
            entry = _Entry(now, self._start(compute))
            self._entries[key] = entry
            self._entries.move_to_end(key)
            self._forget_old(now)
        elif entry.result.done() and now - entry.computed_at >= self._ttl_s:
            if entry.refresh is None:
                entry.refresh = self._start(compute)
                entry.refresh.add_done_callback(lambda done: self._refreshed(key, entry, done))
            return entry.result.result()  # the previous result, while the refresh runs
        try:
            return await asyncio.shield(entry.result)
        except BaseException:
            if self._entries.get(key) is entry and _failed(entry.result):
                del self._entries[key]  # a failure is not served to the next caller
            raise

    def _refreshed(self, key: Hashable, entry: _Entry, done: asyncio.Future[Any]) -> None:
        entry.refresh = None
        if done.cancelled() or done.exception() is not None:
            return  # keep the previous result (until max_stale_s) and try again next time
        if self._entries.get(key) is entry:
            self._entries[key] = _Entry(self._clock(), done)

    def _forget_old(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if now - e.computed_at > self._max_stale_s]:
            del self._entries[key]
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)


def _failed(future: asyncio.Future[Any]) -> bool:
    if not future.done():
        return False
    with contextlib.suppress(asyncio.CancelledError):
        return future.exception() is not None
    return True
