"""One protection pattern per model, chosen once for every API instance (`reporting.patterns`).

What could break: two instances choosing at once (twice the solver, or two patterns), an
instance applying a pattern chosen for other data (cells served unprotected), a chooser
that dies holding the lock (the others wait for ever), a stored pattern that differs from
the one an instance would choose itself. Each is tried on the real PostgreSQL; the
statewide releases are computed from random facts (`random_projection`).
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import date
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from services.reporting.tests.random_projection import random_facts, random_projection

from durchstarten.db.pool import create_pool
from durchstarten_deploy.stack import Stack
from reporting.audit import CellKey, LinearModel, ProtectionRule
from reporting.patterns import Chosen, PatternStore, model_digest, variable_labels
from reporting.protection import Protection
from reporting.settings import ReportingSettings
from reporting.statewide import StateRelease, compute_statewide, joint_model, read_statewide
from reporting.versions import live_schema

TODAY = date(2026, 12, 7)


def _model(truth: int = 2, published: int | None = 2, *, reverse: bool = False) -> LinearModel:
    """Cells x, y and their total; `reverse`: the same model built in the other order."""
    model = LinearModel()
    names = ["b", "a"] if reverse else ["a", "b"]
    index = {name: model.variable(name) for name in names}
    a, b = index["a"], index["b"]
    cells = [
        (CellKey("r 2026-Q1 county", "t", "x", "n"), {a: 1.0}, published, truth),
        (CellKey("r 2026-Q1 county", "t", "y", "n"), {b: 1.0}, 7, 7),
        (CellKey("r 2026-Q1 county", "t", "total", "n"), {a: 1.0, b: 1.0}, 9, 9),
    ]
    for key, expression, value, true in reversed(cells) if reverse else cells:
        model.publish(key, expression, value, true)
    return model


def test_the_digest_is_the_models_every_input_of_the_solver() -> None:
    rule = ProtectionRule(threshold=3, hidden_minimum=1)
    nothing_fixed = lambda key: False  # noqa: E731  # the model's own lambda shape
    same = model_digest(_model(), nothing_fixed, rule)
    assert same == model_digest(_model(), nothing_fixed, rule)
    # Another process builds the same model in another order (salted string hashing).
    assert same == model_digest(_model(reverse=True), nothing_fixed, rule)
    assert same != model_digest(_model(truth=1, published=1), nothing_fixed, rule)
    assert same != model_digest(_model(published=None), nothing_fixed, rule)
    assert same != model_digest(_model(), lambda key: key.row == "x", rule)
    assert same != model_digest(_model(), nothing_fixed, ProtectionRule(threshold=4))
    constrained = _model()
    constrained.constrain({0: 1.0}, 0, 5, "known bound")
    assert same != model_digest(constrained, nothing_fixed, rule)


def _permuted(model: LinearModel, seed: int) -> LinearModel:
    """The same model with its variables, cells and constraints in another order."""
    rng = random.Random(seed)
    order = list(range(len(model.names)))
    rng.shuffle(order)  # order[new] = old
    new_of = {old: new for new, old in enumerate(order)}
    moved = LinearModel()
    for old in order:
        moved.variable(model.names[old], model.lower[old], model.upper[old])

    def terms(expression: Mapping[int, float]) -> dict[int, float]:
        return {new_of[i]: c for i, c in expression.items()}

    moved.definitions = {new_of[i]: terms(e) for i, e in model.definitions.items()}
    cells = list(model.cells)
    rng.shuffle(cells)
    for cell in cells:
        moved.publish(
            cell.key, terms(cell.expression), cell.published, cell.truth, floor=cell.floor
        )
    constraints = list(model.constraints)
    rng.shuffle(constraints)
    for constraint in constraints:
        moved.constrain(
            terms(constraint.expression), constraint.lower, constraint.upper, constraint.reason
        )
    return moved


def test_the_digest_does_not_depend_on_the_order_of_a_model_with_repeated_names() -> None:
    rule = ProtectionRule(threshold=3, hidden_minimum=1)
    model = LinearModel()
    # Two provider sets, each with its own "E[2026,F1]" atom: names repeat, uses differ.
    first, second = model.variable("E[2026,F1]"), model.variable("E[2026,F1]")
    model.publish(CellKey("r 2026-Q1 a", "t", "x", "n"), {first: 1.0}, 2, 2)
    model.publish(CellKey("r 2026-Q1 b", "t", "x", "n"), {second: 1.0}, 5, 5)
    model.publish(CellKey("r 2026-Q1 county", "t", "x", "n"), {first: 1.0, second: 1.0}, 7, 7)
    model.constrain({first: 1.0, second: -1.0}, -10, 10, "a known difference")
    nothing_fixed = lambda key: False  # noqa: E731  # the model's own lambda shape
    digest = model_digest(model, nothing_fixed, rule)
    for seed in range(8):
        assert model_digest(_permuted(model, seed), nothing_fixed, rule) == digest
    # Which of the two atoms holds which count matters: swap the truths, another digest.
    swapped = LinearModel()
    a, b = swapped.variable("E[2026,F1]"), swapped.variable("E[2026,F1]")
    swapped.publish(CellKey("r 2026-Q1 a", "t", "x", "n"), {a: 1.0}, 5, 5)
    swapped.publish(CellKey("r 2026-Q1 b", "t", "x", "n"), {b: 1.0}, 2, 2)
    swapped.publish(CellKey("r 2026-Q1 county", "t", "x", "n"), {a: 1.0, b: 1.0}, 7, 7)
    swapped.constrain({a: 1.0, b: -1.0}, -10, 10, "a known difference")
    assert model_digest(swapped, nothing_fixed, rule) != digest


@pytest_asyncio.fixture(scope="module")
async def reporting_db(stack: Stack) -> AsyncIterator[tuple[asyncpg.Pool, ReportingSettings]]:
    """A reporting database of its own, its projection filled with random facts (a short
    history without moves: the solver's time grows with the family's length)."""
    facts = random_facts(seed=7, people=200, first_day=date(2025, 1, 1), moves=False)
    async with random_projection(stack, "patterns", facts) as found:
        yield found


async def _stored(pool: asyncpg.Pool) -> int:
    async with pool.acquire() as connection:
        count: int = await connection.fetchval("SELECT count(*) FROM release_patterns")
        return count


def _bodies(release: StateRelease) -> dict[str, Any]:
    return {
        "counties": {key: dict(county.reports) for key, county in release.counties.items()},
        "state": dict(release.state_reports),
        "hidden": release.protection.hidden,
    }


@pytest.mark.integration
@pytest.mark.asyncio
async def test_two_instances_share_one_pattern_and_serve_what_either_would_choose(
    reporting_db: tuple[asyncpg.Pool, ReportingSettings],
) -> None:
    pool, settings = reporting_db
    url = settings.database_url.get_secret_value()
    second_pool = await create_pool(url)  # a second API instance: its own connections
    try:
        async with pool.acquire() as connection:
            await connection.execute("TRUNCATE release_patterns")
        counties, rule = settings.counties(), settings.protection_rule()
        alone = await compute_statewide(pool, counties=counties, rule=rule, today=TODAY)
        assert alone.protection.hidden  # random facts have small counts to protect
        assert await _stored(pool) == 0  # without a store nothing is shared

        first, second = await asyncio.gather(
            *(
                compute_statewide(
                    each,
                    counties=counties,
                    rule=rule,
                    today=TODAY,
                    patterns=PatternStore(each, wait_s=600, poll_s=0.05),
                )
                for each in (pool, second_pool)
            )
        )
        # One chose, the other waited and applied it: the solver ran once.
        assert sorted([first.shared, second.shared]) == [False, True]
        assert await _stored(pool) == 1
        assert _bodies(first) == _bodies(second) == _bodies(alone)

        again = await compute_statewide(
            second_pool,
            counties=counties,
            rule=rule,
            today=TODAY,
            patterns=PatternStore(second_pool, wait_s=600),
        )
        assert again.shared
        assert _bodies(again) == _bodies(alone)

        # Other data, another model: the stored pattern is not applied to it.
        async with pool.acquire() as connection:
            schema = await live_schema(connection)
            row = await connection.fetchrow(f"SELECT * FROM {schema}.participants LIMIT 1")  # noqa: S608  # the live schema's name
            values = dict(row)
            values["participant_id"] = uuid.uuid4()
            del values["projected_at"]
            columns = ", ".join(values)
            marks = ", ".join(f"${i}" for i in range(1, len(values) + 1))
            await connection.execute(
                f"INSERT INTO {schema}.participants ({columns}) VALUES ({marks})",  # noqa: S608  # names from the catalogue
                *values.values(),
            )
        changed = await compute_statewide(
            pool, counties=counties, rule=rule, today=TODAY, patterns=PatternStore(pool, wait_s=1)
        )
        assert not changed.shared
        assert await _stored(pool) == 2
        fresh = await compute_statewide(pool, counties=counties, rule=rule, today=TODAY)
        assert _bodies(changed) == _bodies(fresh)
    finally:
        await second_pool.close()


# Builds a statewide model the way an API instance does and prints its digest.
_DIGEST_OF_A_PROCESS = """
import asyncio, os, sys
from datetime import date
from pydantic import SecretStr
from durchstarten.db.pool import create_pool
from reporting.patterns import variable_labels, model_digest
from reporting.settings import ReportingSettings
from reporting.statewide import joint_model, read_statewide

async def main() -> None:
    url = os.environ["DIGEST_DATABASE_URL"]
    settings = ReportingSettings(database_url=SecretStr(url))
    counties, today = settings.counties(), date.fromisoformat(sys.argv[1])
    pool = await create_pool(url)
    try:
        inputs, truths = await read_statewide(pool, counties=counties, today=today)
    finally:
        await pool.close()
    names = {county.key: county.name for county in counties.all()}
    model, fixed, _ = joint_model(inputs, truths, last_year=today.year, names=names)
    assert variable_labels(model) is not None, "two variables alike: no sharing between processes"
    print(model_digest(model, fixed, settings.protection_rule()))

asyncio.run(main())
"""


@pytest.mark.integration
@pytest.mark.asyncio
async def test_processes_with_other_string_hashing_build_models_with_one_digest(
    reporting_db: tuple[asyncpg.Pool, ReportingSettings],
) -> None:
    """The API instances are processes of their own: each orders its sets by its own salted
    string hashing, and still they must find each other's pattern."""
    pool, settings = reporting_db
    url = settings.database_url.get_secret_value()
    inputs, truths = await read_statewide(pool, counties=settings.counties(), today=TODAY)
    names = {county.key: county.name for county in settings.counties().all()}
    model, fixed, _ = joint_model(inputs, truths, last_year=TODAY.year, names=names)
    assert variable_labels(model) is not None
    here = model_digest(model, fixed, settings.protection_rule())

    def digest_with(seed: str) -> str:
        environment = {**os.environ, "PYTHONHASHSEED": seed, "DIGEST_DATABASE_URL": url}
        done = subprocess.run(  # this interpreter, a script of this file
            [sys.executable, "-c", _DIGEST_OF_A_PROCESS, TODAY.isoformat()],
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    digests = await asyncio.gather(*(asyncio.to_thread(digest_with, s) for s in ("1", "2", "3")))
    assert set(digests) == {here}


def _pattern(tag: str) -> Chosen:
    hidden = frozenset({CellKey(f"r {tag}", "t", "x", "n"), CellKey(f"r {tag}", "t", "y", "n")})
    return Chosen(Protection(hidden, frozenset(list(hidden)[:1]), 1, None), unlinked=False)


@pytest.mark.integration
@pytest.mark.asyncio
async def test_a_chooser_that_dies_holding_the_lock_leaves_the_choice_to_the_next(
    reporting_db: tuple[asyncpg.Pool, ReportingSettings],
) -> None:
    pool, settings = reporting_db
    digest = uuid.uuid4().hex * 2
    started, never = asyncio.Event(), asyncio.Event()
    dying_pool = await create_pool(settings.database_url.get_secret_value(), max_size=2)

    async def choose_for_ever() -> Chosen:
        started.set()
        await never.wait()
        raise AssertionError("the dying instance never finishes")

    calls: list[str] = []

    async def choose() -> Chosen:
        calls.append("survivor")
        return _pattern("survivor")

    dying = asyncio.ensure_future(
        PatternStore(dying_pool, wait_s=600).shared(digest, choose_for_ever)
    )
    try:
        await asyncio.wait_for(started.wait(), 30)
        survivor = asyncio.ensure_future(
            PatternStore(pool, wait_s=600, poll_s=0.05).shared(digest, choose)
        )
        await asyncio.sleep(0.3)
        assert not survivor.done()  # it waits for the holder
        assert calls == []
        # The holder's process dies: PostgreSQL ends its session, and with it the lock.
        async with pool.acquire() as connection:
            ended = await connection.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks"
                " WHERE locktype = 'advisory' AND granted AND pid <> pg_backend_pid()"
            )
        assert ended == 1
        chosen = await asyncio.wait_for(survivor, 60)
        assert calls == ["survivor"]
        assert chosen.protection == _pattern("survivor").protection
        # Stored for the next: read back without choosing, positions intact.
        again = await PatternStore(pool, wait_s=600).shared(digest, choose)
        assert calls == ["survivor"]
        assert again.shared
        assert again.protection.hidden == chosen.protection.hidden
        assert again.protection.primary == chosen.protection.primary
    finally:
        dying.cancel()
        await asyncio.gather(dying, return_exceptions=True)
        dying_pool.terminate()


@pytest.mark.integration
@pytest.mark.asyncio
async def test_an_instance_stops_waiting_for_a_stuck_chooser_and_chooses_itself(
    reporting_db: tuple[asyncpg.Pool, ReportingSettings],
) -> None:
    pool, _ = reporting_db
    digest = uuid.uuid4().hex * 2
    started, release = asyncio.Event(), asyncio.Event()

    async def stuck() -> Chosen:
        started.set()
        await release.wait()
        return _pattern("late")

    async def choose() -> Chosen:
        return _pattern("impatient")

    holder = asyncio.ensure_future(PatternStore(pool, wait_s=600).shared(digest, stuck))
    await asyncio.wait_for(started.wait(), 30)
    impatient = await asyncio.wait_for(
        PatternStore(pool, wait_s=0.5, poll_s=0.05).shared(digest, choose), 60
    )
    assert impatient.protection == _pattern("impatient").protection
    assert not impatient.shared
    release.set()
    late = await asyncio.wait_for(holder, 60)
    assert late.protection == _pattern("late").protection
    # The first stored stays (an equal model gives an equal pattern; here: the first wins).
    stored = await PatternStore(pool, wait_s=0).shared(digest, choose)
    assert stored.shared
    assert stored.protection.hidden == _pattern("impatient").protection.hidden
    # An operator's recomputation chooses afresh, whatever is stored.
    chosen_afresh = await PatternStore(pool, wait_s=5).shared(digest, stuck, afresh=True)
    assert not chosen_afresh.shared
    assert chosen_afresh.protection == _pattern("late").protection


@pytest.mark.integration
@pytest.mark.asyncio
async def test_an_instance_with_a_pool_of_one_connection_chooses_and_shares(
    reporting_db: tuple[asyncpg.Pool, ReportingSettings],
) -> None:
    _, settings = reporting_db
    digest = uuid.uuid4().hex * 2
    small = await create_pool(settings.database_url.get_secret_value(), min_size=1, max_size=1)
    try:
        store = PatternStore(small, wait_s=5)

        async def choose() -> Chosen:
            return _pattern("small")

        # The lookups run on the connection holding the lock: nothing waits for a second.
        chosen = await asyncio.wait_for(store.shared(digest, choose), 60)
        assert not chosen.shared
        again = await asyncio.wait_for(store.shared(digest, choose), 60)
        assert again.shared
        assert again.protection.hidden == chosen.protection.hidden
    finally:
        await small.close()
