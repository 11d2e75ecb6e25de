"""Reports as CSV and XLSX, from the same protected tables as the JSON (suppressed: ".")."""

from __future__ import annotations

import csv
import io
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]  # ships no type information

from reporting.disclosure import SUPPRESSED_MARKER


def _tables(report: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The protected tables of a report, by name, in order."""
    return [
        (name, value)
        for name, value in report.items()
        if isinstance(value, dict) and "cells" in value
    ]


def _text(cell: dict[str, Any]) -> str | int:
    return SUPPRESSED_MARKER if cell["suppressed"] else int(cell["value"])


def _grid(table: dict[str, Any]) -> list[list[str | int]]:
    rows: list[list[str | int]] = [["", *table["columns"]]]
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
    for name, table in _tables(report):
        writer.writerow([])
        writer.writerow([name])
        writer.writerows(_grid(table))
    writer.writerow([])
    threshold = report.get("min_cell_count")
    writer.writerow([f"{SUPPRESSED_MARKER} = suppressed (fewer than {threshold}, or recomputable)"])
    return out.getvalue()


def to_xlsx(report: dict[str, Any]) -> bytes:
    """One worksheet per table."""
    workbook = Workbook()
    first = True
    for name, table in _tables(report):
        sheet = workbook.active if first else workbook.create_sheet()
        first = False
        assert sheet is not None  # noqa: S101  # a new workbook has an active sheet
        sheet.title = name[:31]
        for row in _grid(table):
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
