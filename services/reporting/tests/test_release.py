"""Releases: one pattern applied to every table, derived figures withheld with their counts,
and the keeper that serves the newest release without computing one per request."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reporting.adjustment import adjust
from reporting.audit import CellKey, LinearModel, ProtectionRule, audit
from reporting.protection import withheld
from reporting.release import DataState, Release, ReleaseKeeper, withhold

SOURCE = "courses 2024 county"


def cell(value: int) -> dict[str, Any]:
    return {"value": value, "suppressed": False}


def courses_report() -> dict[str, Any]:
    return {
        "report": "courses-and-funds",
        "people_by_module": {
            "rows": ["F2", "F4"],
            "columns": ["enrolled", "completed"],
            "cells": [[cell(5), cell(4)], [cell(9), cell(1)]],
            "column_totals": [cell(14), cell(5)],
        },
        "exam_results": {
            "rows": ["B1", "A2", "below-A2", "did-not-sit"],
            "columns": ["results"],
            "cells": [[cell(6)], [cell(2)], [cell(0)], [cell(1)]],
        },
        "pass_rate": 0.75,
        "funds_by_module": {
            "F4": {"ue_paid": 100, "ue_lump_sum_eur": 3750.0, "exam_fees_eur": 960.0}
        },
        "min_cell_count": 1,
    }


def test_the_pattern_withholds_its_cells_and_the_figures_built_on_them() -> None:
    hidden = frozenset(
        {
            CellKey(SOURCE, "people_by_module", "F4", "completed"),
            CellKey(SOURCE, "people_by_module", "total", "completed"),
            CellKey(SOURCE, "exam_results", "A2", "results"),
            CellKey("courses 2024 in-via", "exam_results", "B1", "results"),  # another report
        }
    )
    report = courses_report()
    body = withhold(report, SOURCE, hidden, threshold=3)
    people = body["people_by_module"]
    assert people["cells"][1][1]["suppressed"]
    assert people["column_totals"][1]["suppressed"]
    assert [c["value"] for c in people["cells"][0]] == [5, 4]
    assert body["exam_results"]["cells"][0][0] == cell(6)
    assert body["exam_results"]["cells"][1][0]["suppressed"]
    assert body["pass_rate"] is None  # A2 is behind it
    assert body["funds_by_module"]["F4"]["exam_fees_eur"] is None  # fees count the exams
    assert body["funds_by_module"]["F4"]["ue_paid"] == 100  # teaching units are not people
    assert (body["min_cell_count"], body["disclosure_control"]) == (3, "linked-tables")
    assert report["pass_rate"] == 0.75  # the unsuppressed report is left as it was


def test_a_withheld_did_not_sit_keeps_the_pass_rate_but_not_the_fees() -> None:
    hidden = frozenset({CellKey(SOURCE, "exam_results", "did-not-sit", "results")})
    body = withhold(courses_report(), SOURCE, hidden, threshold=3)
    assert body["pass_rate"] == 0.75
    assert body["funds_by_module"]["F4"]["exam_fees_eur"] is None


def test_a_placement_rate_goes_with_its_counts() -> None:
    source = "outcomes 2024-Q1 county"
    report = {
        "report": "outcomes",
        "participants": {
            "rows": ["reached", "placed", "exited", "placed_exited"],
            "columns": ["participants"],
            "cells": [[cell(20)], [cell(8)], [cell(10)], [cell(4)]],
        },
        "placement_rate_reached": 0.4,
        "placement_rate_exited": 0.4,
    }
    hidden = frozenset({CellKey(source, "participants", "exited", "participants")})
    body = withhold(report, source, hidden, threshold=3)
    assert body["placement_rate_reached"] == 0.4
    assert body["placement_rate_exited"] is None


def test_one_table_lifts_every_small_count_and_proves_them_safe() -> None:
    # A line: cells 1, 2, 5, 7 and its total 15, all published; the 1 and the 2 are small.
    model = LinearModel()
    cells = [model.variable(f"c{i}") for i in range(4)]
    truths = [1, 2, 5, 7]
    for i, (variable, truth) in enumerate(zip(cells, truths, strict=True)):
        model.publish(CellKey("t", "line", str(i), "n"), {variable: 1.0}, truth, truth)
    model.publish(CellKey("t", "line", "total", "n"), dict.fromkeys(cells, 1.0), 15, 15)
    rule = ProtectionRule(threshold=3, hidden_minimum=1)
    small = {CellKey("t", "line", "0", "n"), CellKey("t", "line", "1", "n")}
    working = withheld(model, small)
    result = adjust(
        working, rule, sensitive=[({cells[0]: 1.0}, 3.0), ({cells[1]: 1.0}, 3.0)], frozen=set()
    )
    # Both small counts reach 3 in one table: the 1 and the 2 take 4 from the 5 (the cheapest
    # cell to move); the total and the 7 stay published.
    assert result.table[cells[0]] >= 3 - 1e-6
    assert result.table[cells[1]] >= 3 - 1e-6
    assert result.moved == {2}
    protected = withheld(model, small | {model.cells[2].key})
    assert audit(protected, rule).unsafe == ()
    # Without the moved cell the line gives the small counts away together (1 + 2 = 3).
    assert audit(working, rule).unsafe != ()


def test_a_frozen_value_is_never_moved() -> None:
    model = LinearModel()
    a, b = model.variable("a"), model.variable("b")
    model.publish(CellKey("t", "line", "a", "n"), {a: 1.0}, 1, 1)
    model.publish(CellKey("t", "line", "b", "n"), {b: 1.0}, 9, 9)
    model.publish(CellKey("t", "line", "total", "n"), {a: 1.0, b: 1.0}, 10, 10)
    rule = ProtectionRule(threshold=3, hidden_minimum=1)
    working = withheld(model, {CellKey("t", "line", "a", "n")})
    result = adjust(working, rule, sensitive=[({a: 1.0}, 3.0)], frozen={2})
    assert result.moved == {1}  # the total is frozen: the 9 moves
    assert result.table[a] >= 3 - 1e-6


# -- the keeper ---------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def release_of(state: DataState, clock: Clock) -> Release:
    return Release(
        state,
        (),
        {},
        None,  # type: ignore[arg-type]  # the keeper reads only the state
        None,  # type: ignore[arg-type]
        computed_at=clock(),
        seconds=0.0,
        generated_at="",
    )


def state(applied: int) -> DataState:
    return DataState("projection_1", applied, 0, (2026, 4))


class Source:
    """A data state that tests move, and a computation they can hold up."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.applied = 1
        self.computations: list[int] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail = False
        self.duration = 0.0  # what a computation takes on the clock

    async def state(self) -> DataState:
        return state(self.applied)

    async def compute(self) -> Release:
        seen = self.applied
        self.computations.append(seen)
        await self.gate.wait()
        self.clock.now += self.duration
        if self.fail:
            raise RuntimeError("the database went away")
        return release_of(state(seen), self.clock)


def keeper(source: Source, clock: Clock) -> ReleaseKeeper[Release]:
    return ReleaseKeeper(source.compute, source.state, ttl_s=1.0, max_stale_s=30.0, clock=clock)


async def test_a_release_is_kept_while_the_data_is_the_same() -> None:
    clock = Clock()
    source = Source(clock)
    kept = keeper(source, clock)
    first = await kept.get()
    clock.now += 60
    assert await kept.get() is first
    assert await kept.get(fresh=True) is first  # the newest there is
    assert source.computations == [1]


async def test_concurrent_requests_share_one_computation() -> None:
    clock = Clock()
    source = Source(clock)
    source.gate.clear()
    kept = keeper(source, clock)
    waiting = [asyncio.create_task(kept.get()) for _ in range(20)]
    await asyncio.sleep(0)
    source.gate.set()
    releases = await asyncio.gather(*waiting)
    assert len({id(r) for r in releases}) == 1
    assert source.computations == [1]


async def test_changed_data_is_served_from_the_old_release_while_the_new_one_is_computed() -> None:
    clock = Clock()
    source = Source(clock)
    kept = keeper(source, clock)
    first = await kept.get()
    source.applied = 2
    clock.now += 0.5
    assert await kept.get() is first  # within ttl_s: not even looked at
    clock.now += 1.0
    source.gate.clear()
    assert await kept.get() is first  # stale: served, and its successor started
    await asyncio.sleep(0)
    assert source.computations == [1, 2]
    source.gate.set()
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert (await kept.get()).state == state(2)


async def test_a_fresh_request_waits_for_a_release_of_the_data_after_it() -> None:
    clock = Clock()
    source = Source(clock)
    kept = keeper(source, clock)
    await kept.get()
    source.applied = 2
    newest = await kept.get(fresh=True)
    assert newest.state == state(2)


async def test_a_release_too_old_is_not_served() -> None:
    clock = Clock()
    source = Source(clock)
    kept = keeper(source, clock)
    await kept.get()
    source.applied = 3
    clock.now += 31
    assert (await kept.get()).state == state(3)


async def test_a_failed_computation_is_not_kept() -> None:
    clock = Clock()
    source = Source(clock)
    source.fail = True
    kept = keeper(source, clock)
    with pytest.raises(RuntimeError):
        await kept.get()
    source.fail = False
    assert (await kept.get()).state == state(1)
    assert source.computations == [1, 1]


async def test_without_a_ttl_every_answer_is_of_the_data_as_it_stands() -> None:
    clock = Clock()
    source = Source(clock)
    kept = ReleaseKeeper(source.compute, source.state, ttl_s=0, max_stale_s=30.0, clock=clock)
    await kept.get()
    source.applied = 2
    assert (await kept.get()).state == state(2)
    assert await kept.get() is await kept.get()  # unchanged data: the same release
    assert source.computations == [1, 2]


async def test_changing_data_does_not_keep_a_computation_running_for_good() -> None:
    clock = Clock()
    source = Source(clock)
    source.duration = 5.0
    kept = keeper(source, clock)
    first = await kept.get()
    source.applied = 2
    clock.now += 1.5
    assert await kept.get() is first
    await asyncio.sleep(0)
    assert source.computations == [1]  # the last one took 5 s: not yet
    clock.now += 4.0
    assert await kept.get() is first
    await asyncio.sleep(0)
    assert source.computations == [1, 2]


async def test_a_smaller_refresh_share_leaves_more_time_between_background_computations() -> None:
    clock = Clock()
    source = Source(clock)
    source.duration = 5.0
    kept = ReleaseKeeper(
        source.compute, source.state, ttl_s=1.0, max_stale_s=60.0, refresh_share=0.25, clock=clock
    )
    first = await kept.get()
    source.applied = 2
    clock.now += 14.0  # three times the 5 s the last took is 15 s
    assert await kept.get() is first
    await asyncio.sleep(0)
    assert source.computations == [1]
    clock.now += 1.0
    assert await kept.get() is first
    await asyncio.sleep(0)
    assert source.computations == [1, 2]


def test_a_refresh_share_outside_its_range_is_refused() -> None:
    clock = Clock()
    source = Source(clock)
    for share in (0.0, -0.5, 1.5):
        with pytest.raises(ValueError, match="refresh_share"):
            ReleaseKeeper(source.compute, source.state, ttl_s=1, max_stale_s=1, refresh_share=share)


async def test_a_recomputation_runs_its_own_computation_even_behind_a_running_one() -> None:
    clock = Clock()
    source = Source(clock)
    kept = keeper(source, clock)
    await kept.get()
    source.applied = 2
    clock.now += 2.0
    source.gate.clear()
    assert (await kept.get()).state == state(1)  # stale: a background computation starts
    afresh: list[int] = []

    async def chosen_afresh() -> Release:
        afresh.append(source.applied)
        return release_of(state(source.applied), clock)

    recomputed = asyncio.ensure_future(kept.recompute(chosen_afresh))
    await asyncio.sleep(0)
    assert source.computations == [1, 2]
    assert afresh == []  # the running computation is not the recomputation
    source.gate.set()
    release = await recomputed
    assert afresh == [2]  # its own computation, started after the running one ended
    assert source.computations == [1, 2]
    assert release.state == state(2)


async def test_while_the_data_keeps_changing_the_state_is_read_once_per_ttl() -> None:
    clock = Clock()
    source = Source(clock)
    reads: list[float] = []
    gate = asyncio.Event()

    async def counted_state() -> DataState:
        reads.append(clock.now)
        await gate.wait()
        return await source.state()

    kept = ReleaseKeeper(source.compute, counted_state, ttl_s=1.0, max_stale_s=60.0, clock=clock)
    gate.set()
    first = await kept.get()
    began = clock.now
    source.applied = 2
    source.gate.clear()  # the successor takes its time
    clock.now += 1.5
    gate.clear()
    asking = [asyncio.ensure_future(kept.get()) for _ in range(50)]
    await asyncio.sleep(0)
    gate.set()
    assert all(release is first for release in await asyncio.gather(*asking))
    assert reads == [began + 1.5]  # fifty requests, one query
    for _ in range(9):  # within ttl_s of finding it changed: no request looks again
        clock.now += 0.1
        assert await kept.get() is first
    assert reads == [began + 1.5]
    clock.now += 0.2
    assert await kept.get() is first
    assert reads == [began + 1.5, pytest.approx(began + 2.6)]
    source.gate.set()
    assert (await kept.get(fresh=True)).state == state(2)  # a fresh request always looks


async def test_a_fresh_request_never_joins_a_look_at_the_data_started_before_it() -> None:
    clock = Clock()
    source = Source(clock)
    gate = asyncio.Event()
    seen: list[int] = []

    async def slow_state() -> DataState:
        applied = source.applied  # read when the query runs, answered later
        seen.append(applied)
        await gate.wait()
        return state(applied)

    kept = ReleaseKeeper(source.compute, slow_state, ttl_s=1.0, max_stale_s=60.0, clock=clock)
    gate.set()
    first = await kept.get()
    clock.now += 1.5
    gate.clear()
    looking = asyncio.ensure_future(kept.get())  # a look at the data, still under way
    while not seen:  # noqa: ASYNC110  # a list the fake query fills
        await asyncio.sleep(0)
    source.applied = 2  # a write commits after that look read the data
    clock.now += 0.1
    fresh = asyncio.ensure_future(kept.get(fresh=True))
    for _ in range(100):  # the fresh request's own look starts (a shared one would not)
        if len(seen) == 2:
            break
        await asyncio.sleep(0)
    gate.set()
    assert (await looking).state in (state(1), state(2))  # the first, or a newer one
    assert (await fresh).state == state(2)
    assert seen[-2:] == [1, 2]  # the fresh request ran its own look
    assert first.state == state(1)


async def test_a_recomputed_release_is_served_even_if_the_old_was_confirmed_meanwhile() -> None:
    clock = Clock()
    source = Source(clock)
    kept = keeper(source, clock)
    await kept.get()
    source.gate.clear()
    recomputing = asyncio.ensure_future(kept.recompute())
    await asyncio.sleep(0)
    clock.now += 5.0  # the data has not changed: a request confirms the old release
    await kept.get()
    source.gate.set()
    recomputed = await recomputing
    assert await kept.get() is recomputed


async def test_a_failing_computation_is_paced_like_a_finished_one() -> None:
    clock = Clock()
    source = Source(clock)
    source.duration = 5.0
    kept = keeper(source, clock)
    first = await kept.get()
    source.applied = 2
    source.fail = True
    clock.now += 5.5  # the first took 5 s: a background computation may start
    assert await kept.get() is first  # stale: served, and a background computation fails
    for _ in range(5):
        await asyncio.sleep(0)
    assert source.computations == [1, 2]
    clock.now += 1.5  # the failure took 5 s too: not yet again
    assert await kept.get() is first
    await asyncio.sleep(0)
    assert source.computations == [1, 2]
    clock.now += 4.0
    assert await kept.get() is first
    await asyncio.sleep(0)
    assert source.computations == [1, 2, 2]
