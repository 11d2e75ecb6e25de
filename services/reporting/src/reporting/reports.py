"""The official tables, made from the projections and put through disclosure control.

Every number leaves here inside a protected table; the rows are fixed lists (the nine
municipalities, the six modules), so an empty row reads as a zero, not as a gap.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import asyncpg

from durchstarten.db.sql import SqlFiles
from durchstarten.events.values import ModuleCode, Municipality
from reporting.disclosure import protect_table, table_json

SQL = SqlFiles(Path(__file__).parent / "db")

QUARTER_MEASURES = ["entries", "exits", "caseload"]
MODULE_MEASURES = ["entries", "caseload"]


def quarter_bounds(year: int, quarter: int) -> tuple[date, date]:
    """First and last day of a calendar quarter."""
    first = date(year, 3 * (quarter - 1) + 1, 1)
    last = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
    return first, date.fromordinal(last.toordinal() - 1)


async def quarterly_monitoring(
    connection: asyncpg.Connection, *, year: int, quarter: int, min_cell_count: int
) -> dict[str, Any]:
    """The state's monitoring table for one quarter, disclosure-controlled.

    Entries, exits and caseload at quarter end per municipality, and per module.
    """
    start, end = quarter_bounds(year, quarter)
    by_place = {
        row["municipality"]: row
        for row in await connection.fetch(SQL["quarter_by_municipality"], start, end)
    }
    places = [m.value for m in Municipality]
    place_values = [
        [int(by_place[m][k]) if m in by_place else 0 for k in QUARTER_MEASURES] for m in places
    ]
    by_module = {
        row["module"]: row for row in await connection.fetch(SQL["quarter_by_module"], start, end)
    }
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
    funnel_row = await connection.fetchrow(SQL["dashboard_funnel"])
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
