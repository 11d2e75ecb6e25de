"""Reports as CSV and XLSX, from the same protected tables as the JSON (suppressed: ".")."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from fastapi import Response
from openpyxl import Workbook  # type: ignore[import-untyped]  # ships no type information

from reporting.disclosure import SUPPRESSED_MARKER, tables_in


def _sections(report: dict[str, Any]) -> list[tuple[str, list[list[Any]]]]:
    """Every part of a report as a named grid.

    Its protected tables (nested ones too), its tables of amounts per key (funds), and a
    last grid of its single figures (rates, medians).
    """
    sections: list[tuple[str, list[list[Any]]]] = []
    figures: list[list[Any]] = []
    for name, value in report.items():
        if tables := tables_in(name, value):
            sections.extend((table_name, _grid(table)) for table_name, table in tables)
        elif isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            columns = sorted({column for amounts in value.values() for column in amounts})
            grid: list[list[Any]] = [["", *columns]]
            grid.extend(
                [key, *(amounts.get(c, "") for c in columns)] for key, amounts in value.items()
            )
            sections.append((name, grid))
        elif name != "min_cell_count" and (value is None or isinstance(value, int | float)):
            # A withheld rate or median (None) shows the same marker as a suppressed cell.
            figures.append([name, SUPPRESSED_MARKER if value is None else value])
    if figures:
        sections.append(("figures", [["figure", "value"], *figures]))
    return sections


def _text(cell: dict[str, Any]) -> str | int:
    return SUPPRESSED_MARKER if cell["suppressed"] else int(cell["value"])


def _grid(table: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = [["", *table["columns"]]]
    for label, line in zip(table["rows"], table["cells"], strict=True):
        rows.append([label, *(_text(cell) for cell in line)])
    if "column_totals" in table:
        rows.append(["total", *(_text(cell) for cell in table["column_totals"])])
    return rows


def to_csv(report: dict[str, Any]) -> str:
    """One block per table: a title line, the header and the rows.

    Semicolons separate the fields, as German spreadsheets expect.
    """
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    period = report.get("period", {})
    writer.writerow([report.get("report", "report"), *(f"{k}={v}" for k, v in period.items())])
    scope = report.get("scope", {}).get("provider")
    if scope:
        writer.writerow([f"provider={scope}"])
    for name, grid in _sections(report):
        writer.writerow([])
        writer.writerow([name])
        writer.writerows(grid)
    writer.writerow([])
    threshold = report.get("min_cell_count")
    writer.writerow([f"{SUPPRESSED_MARKER} = suppressed (fewer than {threshold}, or recomputable)"])
    return out.getvalue()


def to_xlsx(report: dict[str, Any]) -> bytes:
    """One worksheet per table (single figures on the last one)."""
    workbook = Workbook()
    first = True
    for name, grid in _sections(report):
        sheet = workbook.active if first else workbook.create_sheet()
        first = False
        assert sheet is not None  # noqa: S101  # a new workbook has an active sheet
        sheet.title = name[:31]
        for row in grid:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def as_format(report: dict[str, Any], format_: str, name: str) -> Response:
    """The report as JSON, or as a CSV or XLSX download named `name`.

    JSON is written here the way FastAPI would write the dict (compact, UTF-8), so that a
    cached report is serialised once, not once per request.
    """
    if format_ == "json":
        body = json.dumps(report, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        return Response(body.encode(), media_type="application/json")
    if format_ == "csv":
        return Response(
            to_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if format_ == "xlsx":
        return Response(
            to_xlsx(report),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    msg = f"unknown format {format_!r}"
    raise ValueError(msg)
