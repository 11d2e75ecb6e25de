"""The official tables, made from the projections and put through disclosure control.

Every number leaves here inside a protected table; the rows are fixed lists (the county's
municipalities by their official keys, from the county files; the six modules), so an
empty row reads as a zero, not as a gap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from durchstarten.db.sqlfiles import SqlFiles
from durchstarten.events.values import ModuleCode
from reporting.disclosure import protect_table, table_json
from reporting.facts import (
    BY_MODULE,
    BY_MUNICIPALITY,
    COURSE_PEOPLE,
    DAYS_TO_FIRST_PLACEMENT,
    ESF_ENTRIES,
    ESF_EXITS,
    EXAMS,
    FUNDS,
    PLACED_CATEGORIES,
    PLACEMENT_RATES,
    PLACEMENTS_BY_CATEGORY,
    PLACEMENTS_BY_SITE,
    Facts,
    Window,
    facts_of,
)

SQL = SqlFiles(Path(__file__).parent / "db")

QUARTER_MEASURES = ["entries", "exits", "caseload"]
MODULE_MEASURES = ["entries", "caseload"]


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """First and last day of a calendar quarter."""
    first = date(year, 3 * (quarter - 1) + 1, 1)
    last = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return first, date.fromordinal(last.toordinal() - 1)


def year_bounds(year: int) -> Window:
    """First and last day of a calendar year."""
    return date(year, 1, 1), date(year, 12, 31)


def scope_json(provider: str | None) -> dict[str, Any]:
    """How a report is scoped: the whole county, or one provider's participants."""
    if provider is None:
        return {"provider": None, "definition": "all participants in the county"}
    return {
        "provider": provider,
        "definition": f"participants with a module participation at {provider}; "
        f"placements, courses and funds of {provider}",
    }


async def quarterly_monitoring(
    source: asyncpg.Connection | Facts,
    *,
    year: int,
    quarter: int,
    min_cell_count: int,
    provider: str | None = None,
) -> dict[str, Any]:
    """The state's monitoring table for one quarter, disclosure-controlled.

    Entries, exits and caseload at quarter end per municipality, and per module; with a
    provider, only that provider's participants and module participations. `source`: a
    connection to read on, or the facts preloaded for a release.
    """
    start, end = quarter_bounds(year, quarter)
    facts = facts_of(source)
    by_place = {
        row["municipality"]: row
        for row in await facts.rows(BY_MUNICIPALITY, (start, end), provider)
    }
    places = await facts.municipalities()
    place_values = [
        [int(by_place[m][k]) if m in by_place else 0 for k in QUARTER_MEASURES] for m in places
    ]
    by_module = {row["module"]: row for row in await facts.rows(BY_MODULE, (start, end), provider)}
    modules = [m.value for m in ModuleCode]
    module_values = [
        [int(by_module[m][k]) if m in by_module else 0 for k in MODULE_MEASURES] for m in modules
    ]
    return {
        "report": "quarterly-monitoring",
        "period": {
            "year": year,
            "quarter": quarter,
            "from": start.isoformat(),
            "to": end.isoformat(),
        },
        "scope": scope_json(provider),
        "definitions": {
            "entries": "people whose programme entry (or module start) lies in the quarter",
            "exits": "people whose programme exit lies in the quarter",
            "caseload": "people entered by the quarter's last day and not exited by then",
        },
        "by_municipality": table_json(
            protect_table(
                places,
                QUARTER_MEASURES,
                place_values,
                min_cell_count=min_cell_count,
                with_row_totals=False,
            )
        ),
        "by_module": table_json(
            protect_table(
                modules,
                MODULE_MEASURES,
                module_values,
                min_cell_count=min_cell_count,
                with_row_totals=False,
            )
        ),
        "min_cell_count": min_cell_count,
    }


async def dashboard_data(connection: asyncpg.Connection, *, min_cell_count: int) -> dict[str, Any]:
    """What the dashboard shows, every number disclosure-controlled."""
    quarters = await connection.fetch(SQL["dashboard_quarters"])
    labels = [f"{row['start'].year} Q{(row['start'].month - 1) // 3 + 1}" for row in quarters]
    series = protect_table(
        labels,
        QUARTER_MEASURES,
        [[int(row[k]) for k in QUARTER_MEASURES] for row in quarters],
        min_cell_count=min_cell_count,
        with_row_totals=False,
    )
    funnel_row = await connection.fetchrow(SQL["dashboard_funnel"], PLACED_CATEGORIES)
    funnel_steps = ["registered", "coached", "placed"]
    funnel = protect_table(
        funnel_steps,
        ["participants"],
        [[int(funnel_row[step])] for step in funnel_steps],
        min_cell_count=min_cell_count,
        with_row_totals=False,
    )
    placements = {
        r["category"]: int(r["placements"])
        for r in await connection.fetch(SQL["dashboard_placements"])
    }
    categories = sorted(placements)
    by_category = protect_table(
        categories,
        ["placements"],
        [[placements[c]] for c in categories],
        min_cell_count=min_cell_count,
        with_row_totals=False,
    )
    exams = {
        r["overall"]: int(r["results"]) for r in await connection.fetch(SQL["dashboard_exams"])
    }
    levels = [level for level in ("B1", "A2", "below-A2", "did-not-sit") if level in exams]
    by_level = protect_table(
        levels,
        ["results"],
        [[exams[lv]] for lv in levels],
        min_cell_count=min_cell_count,
        with_row_totals=False,
    )
    # The funnel's steps overlap (placed people were coached and registered): no total.
    funnel_json = table_json(funnel)
    funnel_json.pop("column_totals")
    return {
        "quarters": table_json(series),
        "funnel": funnel_json,
        "placements_by_category": table_json(by_category),
        "exam_results": table_json(by_level),
        "min_cell_count": min_cell_count,
    }


MEDIAN_MIN_PEOPLE = 10
"""A median describes one person's value; it is published only over at least this many."""


def _rate(numerator: dict[str, Any], denominator: dict[str, Any]) -> float | None:
    if numerator["suppressed"] or denominator["suppressed"] or not denominator["value"]:
        return None
    rate: float = round(numerator["value"] / denominator["value"], 4)
    return rate


async def outcomes(
    source: asyncpg.Connection | Facts,
    *,
    year: int,
    quarter: int,
    min_cell_count: int,
    provider: str | None = None,
) -> dict[str, Any]:
    """Placements of a quarter by category, provider and site, rates and a median.

    Every count is disclosure-controlled; a rate built on a suppressed count is withheld.
    """
    start, end = quarter_bounds(year, quarter)
    facts = facts_of(source)
    rows = await facts.rows(PLACEMENTS_BY_CATEGORY, (start, end), provider)
    categories = sorted({r["category"] for r in rows})
    providers = sorted({r["provider"] for r in rows})
    counts = {(r["category"], r["provider"]): int(r["placements"]) for r in rows}
    by_category = (
        protect_table(
            categories,
            providers,
            [[counts.get((c, p), 0) for p in providers] for c in categories],
            min_cell_count=min_cell_count,
        )
        if categories
        else None
    )
    sites = {
        r["site"]: int(r["placements"])
        for r in await facts.rows(PLACEMENTS_BY_SITE, (start, end), provider)
    }
    by_site = protect_table(
        sorted(sites),
        ["placements"],
        [[sites[s]] for s in sorted(sites)],
        min_cell_count=min_cell_count,
        with_row_totals=False,
    )
    ausbildung = sum(v for (c, _), v in counts.items() if c.startswith("ausbildung"))
    employment = sum(v for (c, _), v in counts.items() if c == "employment")
    marginal = sum(int(r["marginal"]) for r in rows)
    headline = protect_table(
        ["ausbildung", "employment", "employment_marginal"],
        ["placements"],
        [[ausbildung], [employment], [marginal]],
        min_cell_count=min_cell_count,
        with_row_totals=False,
    )
    steps = ["reached", "placed", "exited", "placed_exited"]
    # No row: nobody reached by then (then nobody placed or exited among them either).
    rate_row = next(iter(await facts.rows(PLACEMENT_RATES, (start, end), provider)), None)
    rate_counts = [int(rate_row[s]) if rate_row else 0 for s in steps]
    rate_table = table_json(
        protect_table(
            steps,
            ["participants"],
            [[count] for count in rate_counts],
            min_cell_count=min_cell_count,
            with_row_totals=False,
        )
    )
    rate_table.pop("column_totals")  # the steps overlap: a sum would mean nothing
    cells = {step: rate_table["cells"][i][0] for i, step in enumerate(steps)}
    days = sorted(
        int(r["days"]) for r in await facts.rows(DAYS_TO_FIRST_PLACEMENT, (start, end), provider)
    )
    median = None
    if len(days) >= max(MEDIAN_MIN_PEOPLE, min_cell_count):
        middle = len(days) // 2
        median = days[middle] if len(days) % 2 else (days[middle - 1] + days[middle]) / 2
    return {
        "report": "outcomes",
        "period": {
            "year": year,
            "quarter": quarter,
            "from": start.isoformat(),
            "to": end.isoformat(),
        },
        "scope": scope_json(provider),
        "placements_by_category_and_provider": table_json(by_category) if by_category else None,
        "placements_by_site": table_json(by_site),
        "headline": table_json(headline),
        "participants": rate_table,
        "placement_rate_reached": _rate(cells["placed"], cells["reached"]),
        "placement_rate_exited": _rate(cells["placed_exited"], cells["exited"]),
        "median_days_to_first_placement": median,
        "definitions": {
            "placed": "at least one placement in "
            + ", ".join(PLACED_CATEGORIES)
            + " (for a provider: recorded by it)",
            "placement_rate_reached": "participants with at least one placement started by the "
            "quarter's end / participants who entered by then",
            "placement_rate_exited": "participants exited by the quarter's end with at least one "
            "placement / participants exited by then",
            "median_days_to_first_placement": "median of the days from entry to the first "
            f"placement, over people first placed in the quarter; shown from {MEDIAN_MIN_PEOPLE} "
            "people on",
        },
        "min_cell_count": min_cell_count,
    }


COURSE_EVENTS = ["enrolled", "completed", "dropped-out"]
COURSE_MODULES = ["F2", "F3", "F4"]
EXAM_LEVELS = ["B1", "A2", "below-A2", "did-not-sit"]


async def courses_and_funds(
    source: asyncpg.Connection | Facts,
    *,
    year: int,
    min_cell_count: int,
    provider: str | None = None,
) -> dict[str, Any]:
    """Enrolments, completions, drop-outs, exam results and the funds of a calendar year.

    People are counted under disclosure control; money and teaching units are facts about
    courses, not people, and are published as they are.
    """
    facts, window = facts_of(source), year_bounds(year)
    counts = {
        (r["module"], r["event"]): int(r["people"])
        for r in await facts.rows(COURSE_PEOPLE, window, provider)
    }
    people = protect_table(
        COURSE_MODULES,
        COURSE_EVENTS,
        [[counts.get((m, e), 0) for e in COURSE_EVENTS] for m in COURSE_MODULES],
        min_cell_count=min_cell_count,
        with_row_totals=False,
    )
    exams = {r["overall"]: int(r["results"]) for r in await facts.rows(EXAMS, window, provider)}
    exam_table = protect_table(
        EXAM_LEVELS,
        ["results"],
        [[exams.get(level, 0)] for level in EXAM_LEVELS],
        min_cell_count=min_cell_count,
        with_row_totals=False,
    )
    sat = sum(v for k, v in exams.items() if k != "did-not-sit")
    passed = exams.get("B1", 0)
    # The rate would give away a hidden count (sat - passed): only when all are published.
    published = all(
        exam_table.cells[EXAM_LEVELS.index(level)][0] is not None
        for level in ("B1", "A2", "below-A2")
    )
    pass_rate = round(passed / sat, 4) if sat and published else None
    funds: dict[str, dict[str, Any]] = {}
    for row in await facts.rows(FUNDS, window, provider):
        entry = funds.setdefault(
            row["module"], {"ue_paid": 0, "ue_lump_sum_eur": 0.0, "exam_fees_eur": 0.0}
        )
        if row["kind"] == "ue-lump-sum":
            entry["ue_paid"] += int(row["ue"])
            entry["ue_lump_sum_eur"] += int(row["cents"]) / 100
        else:
            entry["exam_fees_eur"] += int(row["cents"]) / 100
    return {
        "report": "courses-and-funds",
        "period": {"year": year},
        "scope": scope_json(provider),
        "people_by_module": table_json(people),
        "exam_results": table_json(exam_table),
        "pass_rate": pass_rate,
        "funds_by_module": {m: funds[m] for m in sorted(funds)},
        "definitions": {
            "pass_rate": "DTZ results B1 / exams sat (did-not-sit excluded); withheld when a "
            "count behind it is too small to publish",
            "ue_paid": "teaching units delivered and paid by the lump sum",
        },
        "min_cell_count": min_cell_count,
    }


ESF_AGE_BANDS = ["under-18", "18-29", "30-54", "55-and-over"]
ESF_EDUCATION = {
    "none": "isced-0-2",
    "primary": "isced-0-2",
    "lower-secondary": "isced-0-2",
    "upper-secondary": "isced-3-4",
    "unknown": "unknown",
}
EU_EEA_CH = frozenset(
    "AUT BEL BGR HRV CYP CZE DNK EST FIN FRA "  # noqa: SIM905  # 31 codes read best as text
    "DEU GRC HUN IRL ITA LVA LTU LUX MLT NLD POL "
    "PRT ROU SVK SVN ESP SWE ISL LIE NOR CHE".split()
)
"""Countries whose nationals are not third-country nationals in the ESF+ sense."""

ESF_RESULTS = [
    "education-or-training",
    "employment-insured",
    "employment-marginal",
    "regular-system",
    "left-the-region",
    "unknown",
    "not-recorded",
]
ESF_WINDOWS = ["4-weeks", "6-months"]


def esf_result(category: str | None, employment_kind: str | None) -> str:
    """The ESF+ result group of a follow-up's category (None: no follow-up recorded)."""
    match category:
        case None:
            return "not-recorded"
        case "employment":
            return "employment-marginal" if employment_kind == "marginal" else "employment-insured"
        case "regular-system" | "unknown":
            return category
        case "moved-away" | "left-country" | "deported":
            return "left-the-region"
        case _:  # training, school, a qualification measure or a language course
            return "education-or-training"


def _tally(rows: Sequence[Mapping[str, Any]], group: Any) -> dict[Any, int]:
    counts: dict[Any, int] = {}
    for row in rows:
        key = group(row)
        counts[key] = counts.get(key, 0) + int(row["people"])
    return counts


async def esf_indicators(
    source: asyncpg.Connection | Facts,
    *,
    year: int,
    min_cell_count: int,
    provider: str | None = None,
) -> dict[str, Any]:
    """ESF+ style indicators of a calendar year, disclosure-controlled.

    Participants entering in the year by the ESF+ common categories the registration carries
    (sex, age, education, third-country nationality), and for people exiting in the year
    their result within 4 weeks and 6 months after exit (the last follow-up in each window
    counts; results are mutually exclusive, so each window's column sums to the exits).
    """
    facts, window = facts_of(source), year_bounds(year)
    entries = await facts.rows(ESF_ENTRIES, window, provider)
    dimensions: dict[str, tuple[list[str], dict[str, int]]] = {
        "sex": (
            ["female", "male", "diverse", "not-stated"],
            _tally(entries, lambda r: r["sex"]),
        ),
        "age_band": (ESF_AGE_BANDS, _tally(entries, lambda r: r["age_band"])),
        "education": (
            ["isced-0-2", "isced-3-4", "unknown"],
            _tally(entries, lambda r: ESF_EDUCATION.get(r["school_education"], "unknown")),
        ),
        "nationality": (
            ["third-country", "eu-eea-ch"],
            _tally(
                entries,
                lambda r: "eu-eea-ch" if r["country_of_origin"] in EU_EEA_CH else "third-country",
            ),
        ),
    }
    at_entry = {
        name: table_json(
            protect_table(
                rows,
                ["participants"],
                [[counts.get(row, 0)] for row in rows],
                min_cell_count=min_cell_count,
                with_row_totals=False,
            )
        )
        for name, (rows, counts) in dimensions.items()
    }
    results = _tally(
        await facts.rows(ESF_EXITS, window, provider),
        lambda r: (r["follow_up_window"], esf_result(r["category"], r["employment_kind"])),
    )
    result_table = protect_table(
        ESF_RESULTS,
        ESF_WINDOWS,
        [[results.get((window, group), 0) for window in ESF_WINDOWS] for group in ESF_RESULTS],
        min_cell_count=min_cell_count,
        with_row_totals=False,  # the windows describe the same people twice
    )
    return {
        "report": "esf-indicators",
        "period": {"year": year},
        "scope": scope_json(provider),
        "participants_at_entry": at_entry,
        "results_after_exit": table_json(result_table),
        "definitions": {
            "participants_at_entry": "people whose programme entry lies in the year",
            "results_after_exit": "people whose programme exit lies in the year, by the last "
            "follow-up recorded in each window after exit; not-recorded: no follow-up",
            "education-or-training": "Ausbildung (company or school), school, a qualification "
            "measure or a language course",
            "isced-0-2": "no school, primary or lower secondary education",
            "isced-3-4": "upper secondary education (the registration records no tertiary "
            "education)",
            "third-country": "country of origin outside the EU, the EEA and Switzerland",
        },
        "min_cell_count": min_cell_count,
    }
