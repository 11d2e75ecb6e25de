"""The set-based measures equal the one-period statements they replaced, and preloading
equals reading each report on its own.

`tests/reference/` keeps the statements the reports ran before, one period and scope at a
time; they are the reference here and nowhere else. The projection holds random facts with
the awkward cases on purpose: an exit before the entry, people without a module, module
participations and placements of people not (or no longer) registered, facts without a
provider, several module starts at one provider, follow-ups on one day, dates before the
first year and after this one. Every period of 2018 to 2027 and every scope (the county,
three providers, one that has nothing) is compared, on the real PostgreSQL.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from pydantic import SecretStr

from durchstarten.db.pool import create_pool
from durchstarten.db.sqlfiles import SqlFiles
from durchstarten_deploy.postgres import create_databases, with_database
from durchstarten_deploy.stack import Stack
from reporting.app import create_app
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
from reporting.settings import ReportingSettings
from reporting.versions import live_schema, reading

pytestmark = pytest.mark.integration

REFERENCE = SqlFiles(Path(__file__).parent / "reference")
PROVIDERS = ["traeger-a", "traeger-b", "traeger-c"]
SCOPES: list[str | None] = [None, *PROVIDERS, "traeger-without-anything"]
YEARS = range(2018, 2028)
QUARTERS = [quarter_bounds(y, q) for y in YEARS for q in (1, 2, 3, 4)]
CALENDAR_YEARS = [year_bounds(y) for y in YEARS]
MUNICIPALITIES = ["05758004", "05758012", "05758016"]
CATEGORIES = [
    "ausbildung-company",
    "employment",
    "school",
    "regular-system",
    "moved-away",
    "unknown",
]

COUNTS: Mapping[str, tuple[str, ...]] = {
    "quarter_by_municipality": ("entries", "exits", "caseload"),
    "quarter_by_module": ("entries", "caseload"),
    "outcomes_rates": ("reached", "placed", "exited", "placed_exited"),
}
"""The counts of the measures whose one-period statements also gave rows of zeros."""


def _day(rng: random.Random) -> date:
    return date(2018, 6, 1) + timedelta(days=rng.randrange(0, 365 * 9 + 200))


def _provider(rng: random.Random, *, nullable: bool = False) -> str | None:
    if nullable and rng.random() < 0.15:
        return None
    return rng.choice(PROVIDERS)


def _facts(seed: int) -> dict[str, list[tuple[Any, ...]]]:
    """Random projection rows, awkward cases included (see the module's docstring)."""
    rng = random.Random(seed)
    people = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(420)]
    registered = people[:360]  # the rest have facts but no (or no longer a) registration
    rows: dict[str, list[tuple[Any, ...]]] = {
        name: []
        for name in (
            "participants",
            "exits",
            "module_participations",
            "placements",
            "exam_results",
            "course_participations",
            "funding",
            "follow_ups",
        )
    }
    entries = {person: _day(rng) for person in people}
    for person in registered:
        rows["participants"].append(
            (
                person,
                _provider(rng),
                entries[person],
                rng.randrange(15, 60),
                rng.choice(["female", "male", "diverse", "not-stated"]),
                rng.choice(["SYR", "AFG", "UKR", "POL"]),
                "recognised",
                rng.choice(MUNICIPALITIES),
                "05758",
                rng.choice(["none", "primary", "upper-secondary", "unknown"]),
                "A2",
                f"event-{person}",
            )
        )
    for person in people:
        if rng.random() < 0.5:
            # mostly after the entry, sometimes before it (an inconsistent history)
            shift = rng.randrange(-60, 900)
            rows["exits"].append((person, entries[person] + timedelta(days=shift), "completed"))
        seen: set[tuple[str, date]] = set()
        for _ in range(rng.choice([0, 1, 1, 2, 3])):
            module = rng.choice(["F1", "F2", "F3", "F6"])
            started = entries[person] + timedelta(days=rng.randrange(-10, 500))
            if (module, started) not in seen:
                seen.add((module, started))
                rows["module_participations"].append((person, module, _provider(rng), started))
        for _ in range(rng.choice([0, 0, 1, 2])):
            rows["placements"].append(
                (
                    uuid.UUID(int=rng.getrandbits(128)),
                    person,
                    _provider(rng),
                    rng.choice(["site-1", "site-2"]),
                    rng.choice(CATEGORIES),
                    entries[person] + timedelta(days=rng.randrange(-20, 700)),
                    rng.choice([None, "marginal", "insured"]),
                )
            )
        course = uuid.UUID(int=rng.getrandbits(128))
        if rng.random() < 0.4:
            on = entries[person] + timedelta(days=rng.randrange(0, 400))
            for event in rng.sample(["enrolled", "completed", "dropped-out"], rng.randrange(1, 3)):
                rows["course_participations"].append(
                    (
                        course,
                        person,
                        rng.choice(["F2", "F3", "F4"]),
                        event,
                        on,
                        _provider(rng, nullable=True),
                    )
                )
            rows["exam_results"].append(
                (
                    course,
                    person,
                    on + timedelta(days=30),
                    rng.choice(["B1", "A2", "below-A2", "did-not-sit"]),
                    _provider(rng, nullable=True),
                )
            )
            rows["funding"].append(
                (
                    f"funding-{person}",
                    course,
                    rng.choice(["F2", "F3", "F4"]),
                    rng.choice(["ue-lump-sum", "exam-fee"]),
                    on,
                    rng.choice([None, 0, 40, 120]),
                    rng.randrange(0, 900_000),
                    _provider(rng, nullable=True),
                )
            )
        observed = entries[person] + timedelta(days=rng.randrange(30, 900))
        for window in rng.sample(["4-weeks", "6-months"], rng.randrange(0, 3)):
            for later in range(rng.choice([1, 2])):  # two observations: the later one counts
                rows["follow_ups"].append(
                    (
                        person,
                        window,
                        observed + timedelta(days=later),
                        _provider(rng),
                        rng.choice(CATEGORIES),
                        rng.choice([None, "marginal"]),
                    )
                )
    return rows


@pytest_asyncio.fixture(scope="module")
async def projection(stack: Stack) -> AsyncIterator[asyncpg.Pool]:
    """A reporting database of its own, its live projection filled with random facts."""
    name = f"{stack.database_prefix}_facts"
    await create_databases(stack.admin_url, [name], recreate=True)
    app_settings = ReportingSettings(
        database_url=SecretStr(with_database(stack.admin_url, name)),
        **stack.kafka_settings(),
        auth_jwks_path=stack.issuer.jwks_path if stack.issuer else None,
    )
    runtime = create_app(app_settings).state.runtime
    pool = await create_pool(app_settings.database_url.get_secret_value())
    try:
        await runtime.attach_database(pool)  # migrations and the first projection version
        async with pool.acquire() as connection:
            schema = await live_schema(connection)
            for table, values in _facts(seed=20261207).items():
                width = len(values[0])
                marks = ", ".join(f"${i}" for i in range(1, width + 1))
                columns = await connection.fetch(
                    "SELECT column_name FROM information_schema.columns"
                    " WHERE table_schema = $1 AND table_name = $2 AND column_default IS NULL"
                    " ORDER BY ordinal_position",
                    schema,
                    table,
                )
                names = ", ".join(row["column_name"] for row in columns[:width])
                # Names from this module and the catalogue, not from input.
                insert = f"INSERT INTO {schema}.{table} ({names}) VALUES ({marks})"  # noqa: S608
                await connection.executemany(insert, values)
        yield pool
    finally:
        await pool.close()


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


@pytest.mark.asyncio
async def test_set_based_measures_equal_the_one_period_statements(
    projection: asyncpg.Pool,
) -> None:
    plan = [
        *((measure, QUARTERS) for measure in QUARTER_FACTS),
        *((measure, CALENDAR_YEARS) for measure in YEAR_FACTS),
    ]
    async with reading(projection) as connection:
        preloaded = await preload(connection, plan, SCOPES)
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
async def test_a_release_read_preloaded_gives_every_report_as_read_alone(
    projection: asyncpg.Pool,
) -> None:
    plan = [
        *((measure, QUARTERS) for measure in QUARTER_FACTS),
        *((measure, CALENDAR_YEARS) for measure in YEAR_FACTS),
    ]
    async with reading(projection) as connection:
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
