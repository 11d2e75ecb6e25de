"""Statistical disclosure control: no published number may reveal an individual.

Counts from 1 to `min_cell_count - 1` are replaced by a marker (primary suppression), and in
tables enough further cells that none of them can be recomputed from the published rows,
columns and totals (secondary suppression). Differencing across overlapping queries is
prevented by design: reports cover fixed periods (calendar quarters) only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

SUPPRESSED_MARKER = "."  # as in German official statistics: "geheim zu halten"


class Cell(BaseModel):
    """A published count: the value, or null with the suppression marker."""

    model_config = ConfigDict(frozen=True)

    value: int | None
    suppressed: bool
    marker: str | None = None


def protect_count(count: int, *, min_cell_count: int) -> Cell:
    """Publish `count`, or suppress it when it is small enough to point at a person."""
    if 0 < count < min_cell_count:
        return Cell(value=None, suppressed=True, marker=SUPPRESSED_MARKER)
    return Cell(value=count, suppressed=False)


@dataclass(frozen=True)
class ProtectedTable:
    """A table of counts with its margins, after disclosure control.

    `cells[r][c]` is None where suppressed; the same goes for the row totals, the column
    totals and the grand total. `suppressed` names every suppressed position, with
    `("row", r)`, `("col", c)` and `("total",)` for the margins.
    """

    rows: list[str]
    columns: list[str]
    cells: list[list[int | None]]
    row_totals: list[int | None]
    column_totals: list[int | None]
    total: int | None
    has_row_totals: bool = True


def protect_table(
    rows: list[str],
    columns: list[str],
    values: list[list[int]],
    *,
    min_cell_count: int,
    with_row_totals: bool = True,
) -> ProtectedTable:
    """Primary and secondary suppression of a two-way table published with its totals.

    Primary: counts from 1 to `min_cell_count - 1` are suppressed (in cells and totals).
    Secondary: wherever a row or column, with its total published, has exactly one hidden
    value, the smallest other value is hidden too, repeated until no line has a single one.
    Then no hidden value can be worked out from the published ones by adding and
    subtracting along rows and columns. Zeros are never hidden on their own (an empty cell
    tells nothing about a person), but may be hidden to protect a neighbour.
    """
    n_rows, n_cols = len(rows), len(columns)
    row_totals = [sum(line) for line in values]
    col_totals = [sum(values[r][c] for r in range(n_rows)) for c in range(n_cols)]
    grand = sum(row_totals)

    def small(value: int) -> bool:
        return 0 < value < min_cell_count

    hidden = {(r, c) for r in range(n_rows) for c in range(n_cols) if small(values[r][c])}
    hidden_rows = {r for r in range(n_rows) if small(row_totals[r])} if with_row_totals else set()
    hidden_cols = {c for c in range(n_cols) if small(col_totals[c])}
    # Without row totals the columns are different measures: their sum means nothing and
    # is not published, so it cannot betray a column total either.
    hidden_total = small(grand) if with_row_totals else True

    changed = True
    while changed:
        changed = False
        # Each line: cells plus its total must not have exactly one hidden member.
        lines: list[tuple[list[tuple[int, int]], str, int]] = []
        if with_row_totals:
            lines += [([(r, c) for c in range(n_cols)], "row", r) for r in range(n_rows)]
        lines += [([(r, c) for r in range(n_rows)], "col", c) for c in range(n_cols)]
        for positions, kind, index in lines:
            margin_hidden = index in (hidden_rows if kind == "row" else hidden_cols)
            count = sum(1 for p in positions if p in hidden) + (1 if margin_hidden else 0)
            if count != 1:
                continue
            candidates = [p for p in positions if p not in hidden]
            if candidates:
                # Hide the smallest other value, preferring a non-zero one.
                choice = min(
                    candidates, key=lambda p: (values[p[0]][p[1]] == 0, values[p[0]][p[1]])
                )
                hidden.add(choice)
            elif kind == "row":
                hidden_rows.add(index)
            else:
                hidden_cols.add(index)
            changed = True
        # The margins form a line with the grand total.
        for margin_hidden_set, n, margin_values in (
            (hidden_cols if with_row_totals else None, n_cols, col_totals),
            (hidden_rows if with_row_totals else None, n_rows, row_totals),
        ):
            if margin_hidden_set is None:
                continue
            count = len(margin_hidden_set) + (1 if hidden_total else 0)
            if count == 1:
                rest = [i for i in range(n) if i not in margin_hidden_set]
                if rest:
                    margin_hidden_set.add(
                        min(rest, key=lambda i: (margin_values[i] == 0, margin_values[i]))
                    )
                else:
                    hidden_total = True
                changed = True

    return ProtectedTable(
        rows=rows,
        columns=columns,
        cells=[
            [None if (r, c) in hidden else values[r][c] for c in range(n_cols)]
            for r in range(n_rows)
        ],
        row_totals=[None if r in hidden_rows else row_totals[r] for r in range(n_rows)]
        if with_row_totals
        else [None] * n_rows,
        column_totals=[None if c in hidden_cols else col_totals[c] for c in range(n_cols)],
        total=None if hidden_total else grand,
        has_row_totals=with_row_totals,
    )


def table_json(table: ProtectedTable) -> dict[str, Any]:
    """The published form: every value a Cell, suppressed ones marked."""

    def cell(value: int | None) -> dict[str, Any]:
        if value is None:
            return {"value": None, "suppressed": True, "marker": SUPPRESSED_MARKER}
        return {"value": value, "suppressed": False}

    published: dict[str, Any] = {
        "rows": table.rows,
        "columns": table.columns,
        "cells": [[cell(v) for v in line] for line in table.cells],
        "column_totals": [cell(v) for v in table.column_totals],
    }
    if table.has_row_totals:
        published["row_totals"] = [cell(v) for v in table.row_totals]
        published["total"] = cell(table.total)
    return published


def _is_table(value: Any) -> bool:
    return isinstance(value, dict) and "cells" in value


def tables_in(name: str, value: Any) -> list[tuple[str, dict[str, Any]]]:
    """The published tables an entry of a report is: itself, those it nests, or none.

    A nested table is named `name.part`, as cell keys, the CSV sections and the XLSX
    sheets name it.
    """
    if _is_table(value):
        return [(name, value)]
    if isinstance(value, dict) and value and all(_is_table(v) for v in value.values()):
        return [(f"{name}.{part}", table) for part, table in value.items()]
    return []


def tables_of(report: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every published table of a report, in order, with its name (see `tables_in`)."""
    for name, value in report.items():
        yield from tables_in(name, value)
