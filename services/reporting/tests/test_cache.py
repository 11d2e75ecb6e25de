"""The report cache: one computation per key and period, shared by concurrent requests."""

from __future__ import annotations

import asyncio

import pytest

from reporting.cache import ReportCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_concurrent_requests_share_one_computation() -> None:
    clock = Clock()
    cache = ReportCache(1.0, clock=clock)
    calls = 0
    release = asyncio.Event()

    async def compute() -> int:
        nonlocal calls
        calls += 1
        await release.wait()
        return calls

    waiting = [asyncio.create_task(cache.get("q", compute)) for _ in range(20)]
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == [1] * 20
    assert calls == 1
    clock.now += 0.5
    assert await cache.get("q", compute) == 1  # still fresh
    assert await cache.get("other", compute) == 2  # another key computes on its own
    assert cache.computed == 2


async def test_an_old_result_is_served_while_it_is_computed_again() -> None:
    clock = Clock()
    cache = ReportCache(1.0, max_stale_s=5.0, clock=clock)
    versions = iter(range(1, 100))

    async def compute() -> int:
        await asyncio.sleep(0)
        return next(versions)

    assert await cache.get("q", compute) == 1
    clock.now += 1.5  # older than the TTL: the next request does not wait
    assert await cache.get("q", compute) == 1
    await asyncio.sleep(0.01)  # the background refresh finishes
    assert await cache.get("q", compute) == 2
    clock.now += 6  # older than max_stale_s: never served, computed while the caller waits
    assert await cache.get("q", compute) == 3


async def test_a_failed_computation_is_not_kept() -> None:
    cache = ReportCache(10.0, clock=Clock())
    attempts = 0

    async def flaky() -> str:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            raise ConnectionError("database away")
        return "report"

    with pytest.raises(ConnectionError):
        await cache.get("q", flaky)
    assert await cache.get("q", flaky) == "report"
    assert attempts == 2


async def test_a_failed_refresh_keeps_the_previous_result() -> None:
    clock = Clock()
    cache = ReportCache(1.0, clock=clock)
    outcomes: list[object] = ["first", ConnectionError("away"), "third"]

    async def compute() -> str:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return str(outcome)

    assert await cache.get("q", compute) == "first"
    clock.now += 2
    assert await cache.get("q", compute) == "first"  # refresh starts, and fails
    await asyncio.sleep(0.01)
    assert await cache.get("q", compute) == "first"  # still served; another refresh starts
    await asyncio.sleep(0.01)
    assert await cache.get("q", compute) == "third"


async def test_zero_seconds_turns_the_cache_off_and_old_entries_are_bounded() -> None:
    off = ReportCache(0.0)
    counter = iter(range(100))

    async def next_number() -> int:
        return next(counter)

    assert [await off.get("q", next_number) for _ in range(3)] == [0, 1, 2]
    clock = Clock()
    small = ReportCache(60.0, max_entries=2, clock=clock)
    for key in ("a", "b", "c"):
        await small.get(key, next_number)
    assert await small.get("a", next_number) == 6  # "a" was evicted as the oldest
    assert await small.get("c", next_number) == 5  # "c" is still kept
