"""The set-based measures equal the one-period statements they replaced, and preloading
equals reading each report on its own.

`tests/reference/` keeps the statements the reports ran before, one period and scope at a
time; they are the reference here and nowhere else. The projection holds random facts with
the awkward cases on purpose (`random_projection`). Every period of 2018 to 2027 and every
scope (the county, three providers, one that has nothing) is compared, on the real
PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from services.reporting.tests.random_projection import PROVIDERS, random_facts, random_projection

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten_deploy.stack import Stack
from reporting.facts import (
    PLACED_CATEGORIES,
    QUARTER_FACTS,
    YEAR_FACTS,
    DirectFacts,
    Measure,
    Window,
    preload,
)
from reporting.reports import (
    courses_and_funds,
    esf_indicators,
    outcomes,
    quarter_bounds,
    quarterly_monitoring,
    year_bounds,
)
from reporting.versions import reading

pytestmark = pytest.mark.integration

REFERENCE = SqlFiles(Path(__file__).parent / "reference")
SCOPES: list[str | None] = [None, *PROVIDERS, "traeger-without-anything"]
YEARS = range(2018, 2028)
QUARTERS = [quarter_bounds(y, q) for y in YEARS for q in (1, 2, 3, 4)]
CALENDAR_YEARS = [year_bounds(y) for y in YEARS]

COUNTS: Mapping[str, tuple[str, ...]] = {
    "quarter_by_municipality": ("entries", "exits", "caseload"),
    "quarter_by_module": ("entries", "caseload"),
    "outcomes_rates": ("reached", "placed", "exited", "placed_exited"),
}
"""The counts of the measures whose one-period statements also gave rows of zeros."""


@pytest_asyncio.fixture(scope="module")
async def projection(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    """A reporting database of its own, its live projection filled with random facts."""
    async with random_projection(stack, "facts", random_facts(seed=20261207)) as (pool, _):
        yield pool


def _reference_arguments(measure: Measure, window: Window, scope: str | None) -> list[Any]:
    """The one-period statements' parameters (a year by its number, rates by the end)."""
    start, end = window
    if measure in YEAR_FACTS:
        return [start.year, scope]
    if measure.name == "outcomes_rates":
        return [end, scope, PLACED_CATEGORIES]
    if measure.name == "outcomes_days_to_first":
        return [start, end, scope, PLACED_CATEGORIES]
    return [start, end, scope]


def _comparable(measure: Measure, rows: Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    """The rows as a sorted multiset, without the period and scope columns and without the
    rows of nothing but zeros that the one-period statements also gave."""
    counts = COUNTS.get(measure.name, ())
    found = []
    for row in rows:
        values = {
            k: v for k, v in dict(row).items() if k not in ("period_start", "period_end", "scope")
        }
        if counts and all(values[c] == 0 for c in counts):
            continue
        found.append(tuple(sorted(values.items(), key=lambda item: item[0])))
    return sorted(found, key=repr)


PLANNER_SETTINGS = (
    "SELECT current_setting('jit') AS jit, current_setting('enable_nestloop') AS loops"
)

LENSES = [None, "05758"]
"""Statewide, and through a county's lens (views; some people moved in or away)."""


@pytest.mark.asyncio
@pytest.mark.parametrize("county", LENSES)
async def test_set_based_measures_equal_the_one_period_statements(
    projection: asyncpg.Pool, county: str | None
) -> None:
    plan = [
        *((measure, QUARTERS) for measure in QUARTER_FACTS),
        *((measure, CALENDAR_YEARS) for measure in YEAR_FACTS),
    ]
    async with reading(projection, county=county) as connection:
        settings = await connection.fetchrow(PLANNER_SETTINGS)
        preloaded = await preload(connection, plan, SCOPES)
        # The planner settings of the set-based reads end with them.
        assert await connection.fetchrow(PLANNER_SETTINGS) == settings
        direct = DirectFacts(connection)
        compared = nonzero = 0
        for measure, windows in plan:
            for window in windows:
                for scope in SCOPES:
                    reference = await connection.fetch(
                        REFERENCE[measure.name], *_reference_arguments(measure, window, scope)
                    )
                    expected = _comparable(measure, reference)
                    assert _comparable(measure, await direct.rows(measure, window, scope)) == (
                        expected
                    ), (measure.name, window, scope)
                    assert _comparable(measure, await preloaded.rows(measure, window, scope)) == (
                        expected
                    ), (measure.name, window, scope)
                    compared += 1
                    nonzero += bool(expected)
    # The facts reach most periods and scopes: the comparison is not one of empty answers.
    assert compared == len(SCOPES) * (
        len(QUARTER_FACTS) * len(QUARTERS) + len(YEAR_FACTS) * len(YEARS)
    )
    assert nonzero > compared // 2


@pytest.mark.asyncio
async def test_the_lens_shows_a_county_its_stays_only(projection: asyncpg.Pool) -> None:
    async with reading(projection) as statewide:
        everyone = await statewide.fetchval("SELECT count(*) FROM participants")
        moved = await statewide.fetchval("SELECT count(DISTINCT participant_id) FROM moves")
    async with reading(projection, county="05758") as herford:
        stayed = await herford.fetchval("SELECT count(*) FROM participants")
    # the lens comparison is not the statewide one
    assert moved > 0
    assert 0 < stayed < everyone


@pytest.mark.asyncio
@pytest.mark.parametrize("county", LENSES)
async def test_a_release_read_preloaded_gives_every_report_as_read_alone(
    projection: asyncpg.Pool, county: str | None
) -> None:
    plan = [
        *((measure, QUARTERS) for measure in QUARTER_FACTS),
        *((measure, CALENDAR_YEARS) for measure in YEAR_FACTS),
    ]
    async with reading(projection, county=county) as connection:
        preloaded = await preload(connection, plan, SCOPES)
        for scope in SCOPES:
            for year in YEARS:
                yearly: dict[str, Any] = {"year": year, "min_cell_count": 3, "provider": scope}
                for by_year in (courses_and_funds, esf_indicators):
                    assert await by_year(preloaded, **yearly) == await by_year(connection, **yearly)
                for quarter in (1, 2, 3, 4):
                    args: dict[str, Any] = {"quarter": quarter, **yearly}
                    for by_quarter in (quarterly_monitoring, outcomes):
                        assert await by_quarter(preloaded, **args) == await by_quarter(
                            connection, **args
                        )
        # A period the release did not read is an error, never a table of zeros.
        with pytest.raises(KeyError, match="not preloaded"):
            await quarterly_monitoring(preloaded, year=2030, quarter=1, min_cell_count=3)
        with pytest.raises(KeyError, match="not preloaded"):
            await outcomes(preloaded, year=2020, quarter=1, min_cell_count=3, provider="traeger-z")
