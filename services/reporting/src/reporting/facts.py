"""The counts behind the reports, read set-based: one statement per measure for a release.

Each measure is one `.sql` file in `db/` that answers for many periods and scopes at once:
`$1` the periods' first days, `$2` their last days (inclusive), `$3` the scopes (NULL for
the whole county, else a provider id), then the measure's own arguments; every row carries
`period_start`, `period_end` and `scope`. A report reads a measure through `Facts.rows`:

- `DirectFacts` runs the statement for the one period and scope asked (a single report);
- `PreloadedFacts` ran it once for every period and scope of a release (`preload`) and
  answers from memory. A release of 1,126 reports thus reads the fact tables eleven times,
  not some ten thousand: the per-report statements were full scans, and a release over a
  million events took minutes per API instance.

Both run the same statements, so a report is the same whichever way it was read (a test
compares them, and both with the one-period statements they replaced).

The statements run without nested loops and without JIT compilation (`planned`). A county's
lens is views (`reporting.counties`) whose row counts the planner cannot estimate; it chose
nested loops that computed a lens view again for every outer row (quadratic: 16 s for one
measure over 3,400 people). And the cost of a statement over every period passes
`jit_above_cost`: compiling took half a second per statement, longer than running it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.events.values import PlacementCategory

SQL = SqlFiles(Path(__file__).parent / "db")

Window = tuple[date, date]
"""A period's first and last day."""


@dataclass(frozen=True)
class Measure:
    """One set-based statement and the arguments it takes after periods and scopes."""

    name: str
    """Its file in `db/`, without `.sql`."""
    arguments: tuple[Any, ...] = ()

    def __post_init__(self) -> None:
        """Fail at import, not at the first release, when the file is missing."""
        SQL[self.name]


PLACED_CATEGORIES = [
    category.value
    for category in (
        PlacementCategory.AUSBILDUNG_COMPANY,
        PlacementCategory.AUSBILDUNG_SCHOOL,
        PlacementCategory.EMPLOYMENT,
        PlacementCategory.QUALIFICATION_MEASURE,
        PlacementCategory.LANGUAGE_COURSE,
        PlacementCategory.SCHOOL,
    )
]
"""Placements that count as "placed": training, work, a qualification or language course,
school. A transfer to the job centre, leaving the region or an unknown whereabouts do not."""

BY_MUNICIPALITY = Measure("quarter_by_municipality")
BY_MODULE = Measure("quarter_by_module")
PLACEMENTS_BY_CATEGORY = Measure("outcomes_by_category")
PLACEMENTS_BY_SITE = Measure("outcomes_by_site")
PLACEMENT_RATES = Measure("outcomes_rates", (tuple(PLACED_CATEGORIES),))
DAYS_TO_FIRST_PLACEMENT = Measure("outcomes_days_to_first", (tuple(PLACED_CATEGORIES),))
COURSE_PEOPLE = Measure("courses_by_module")
EXAMS = Measure("courses_exams")
FUNDS = Measure("funds_by_module")
ESF_ENTRIES = Measure("esf_at_entry")
ESF_EXITS = Measure("esf_results")

QUARTER_FACTS = (
    BY_MUNICIPALITY,
    BY_MODULE,
    PLACEMENTS_BY_CATEGORY,
    PLACEMENTS_BY_SITE,
    PLACEMENT_RATES,
    DAYS_TO_FIRST_PLACEMENT,
)
"""What the quarterly reports read (`preload` reads them for a release)."""
YEAR_FACTS = (COURSE_PEOPLE, EXAMS, FUNDS, ESF_ENTRIES, ESF_EXITS)
"""What the yearly reports read."""


class Facts(ABC):
    """Where a report reads its counts from."""

    @abstractmethod
    async def rows(
        self, measure: Measure, window: Window, provider: str | None
    ) -> Sequence[Mapping[str, Any]]:
        """The rows of `measure` for one period and scope (None: the county)."""

    @abstractmethod
    async def municipalities(self) -> list[str]:
        """The county's municipalities (official keys, in order): the rows of its tables."""


class DirectFacts(Facts):
    """Each call runs its statement for one period and scope on `connection`."""

    def __init__(self, connection: asyncpg.Connection) -> None:
        """Read on `connection` (the caller owns its snapshot)."""
        self._connection = connection

    async def rows(
        self, measure: Measure, window: Window, provider: str | None
    ) -> Sequence[Mapping[str, Any]]:
        """The rows of `measure` for one period and scope, read now."""
        start, end = window
        async with planned(self._connection):
            found: list[asyncpg.Record] = await self._connection.fetch(
                SQL[measure.name], [start], [end], [provider], *measure.arguments
            )
        return found

    async def municipalities(self) -> list[str]:
        """The county's municipalities, read now."""
        return await municipalities_of(self._connection)


class PreloadedFacts(Facts):
    """Every measure read once for all the periods and scopes of a release."""

    def __init__(
        self,
        rows: Mapping[tuple[str, Window, str | None], Sequence[Mapping[str, Any]]],
        loaded: frozenset[tuple[str, Window, str | None]],
        municipalities: Sequence[str],
    ) -> None:
        """Use `preload`; `loaded` is every (measure, window, scope) that was read."""
        self._rows = rows
        self._loaded = loaded
        self._municipalities = list(municipalities)

    async def municipalities(self) -> list[str]:
        """The county's municipalities, as read with the facts."""
        return list(self._municipalities)

    async def rows(
        self, measure: Measure, window: Window, provider: str | None
    ) -> Sequence[Mapping[str, Any]]:
        """The preloaded rows; KeyError for a period or scope that was not read.

        Never an empty answer for something not loaded: that would read as zeros.
        """
        key = (measure.name, window, provider)
        if key not in self._loaded:
            msg = f"{measure.name} was not preloaded for {window} and scope {provider!r}"
            raise KeyError(msg)
        return self._rows.get(key, ())


async def preload(
    connection: asyncpg.Connection,
    plan: Iterable[tuple[Measure, Sequence[Window]]],
    scopes: Sequence[str | None],
) -> PreloadedFacts:
    """Run each measure of `plan` once for its windows and every scope.

    The caller reads in one snapshot (`reporting.versions.reading`).
    """
    rows: dict[tuple[str, Window, str | None], list[Mapping[str, Any]]] = {}
    loaded: set[tuple[str, Window, str | None]] = set()
    async with planned(connection):
        for measure, windows in plan:
            starts = [start for start, _ in windows]
            ends = [end for _, end in windows]
            found = await connection.fetch(
                SQL[measure.name], starts, ends, list(scopes), *measure.arguments
            )
            for row in found:
                key = (measure.name, (row["period_start"], row["period_end"]), row["scope"])
                rows.setdefault(key, []).append(row)
            loaded.update((measure.name, window, scope) for window in windows for scope in scopes)
    return PreloadedFacts(rows, frozenset(loaded), await municipalities_of(connection))


async def municipalities_of(connection: asyncpg.Connection) -> list[str]:
    """The official keys of the county's municipalities, in order."""
    return [row["key"] for row in await connection.fetch(SQL["county_municipalities"])]


@asynccontextmanager
async def planned(connection: asyncpg.Connection) -> AsyncIterator[None]:
    """Within the block: no nested loops, no JIT (see the module's docstring); then as before.

    Inside the caller's transaction (the settings are local to it).
    """
    before = await connection.fetchrow(SQL["facts_planner_settings"])
    await connection.fetchrow(SQL["facts_planner_use"], "off", "off")
    yield
    # Not in a `finally`: after a failed statement the transaction is aborted (and with it
    # the local settings), and a statement to restore them would only hide the error.
    await connection.fetchrow(SQL["facts_planner_use"], before["enable_nestloop"], before["jit"])


def facts_of(source: asyncpg.Connection | Facts) -> Facts:
    """`source` itself when it is `Facts`, else direct reads on the connection."""
    return source if isinstance(source, Facts) else DirectFacts(source)


__all__ = [
    "BY_MODULE",
    "BY_MUNICIPALITY",
    "COURSE_PEOPLE",
    "DAYS_TO_FIRST_PLACEMENT",
    "ESF_ENTRIES",
    "ESF_EXITS",
    "EXAMS",
    "FUNDS",
    "PLACED_CATEGORIES",
    "PLACEMENTS_BY_CATEGORY",
    "PLACEMENTS_BY_SITE",
    "PLACEMENT_RATES",
    "QUARTER_FACTS",
    "YEAR_FACTS",
    "DirectFacts",
    "Facts",
    "Measure",
    "PreloadedFacts",
    "Window",
    "facts_of",
    "municipalities_of",
    "planned",
    "preload",
]
