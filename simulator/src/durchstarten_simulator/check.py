"""The checker: read the reporting API and compare its figures with the oracle's.

The reports are eventually consistent (reporting projects events as they arrive), so the
checker asks again until everything matches or time runs out. A count the API suppresses
(disclosure control) matches when the oracle's count is below the published minimum, or
when another count of the same table is (secondary suppression).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

COUNTS = ("reached", "placed", "exited", "placed_exited")
RATES = ("placement_rate_reached", "placement_rate_exited")
EXAM_LEVELS = ("B1", "A2", "below-A2", "did-not-sit")


@dataclass(frozen=True)
class Comparison:
    """One figure: what the oracle expects, what the API shows, and whether they agree."""

    check: str
    figure: str
    expected: Any
    actual: Any
    ok: bool


@dataclass
class CheckResult:
    """Every comparison of one check run."""

    comparisons: list[Comparison] = field(default_factory=list)
    reports: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every figure agrees."""
        return bool(self.comparisons) and all(c.ok for c in self.comparisons)

    def as_json(self) -> dict[str, Any]:
        """A plain form for the command line."""
        return {
            "ok": self.ok,
            "comparisons": [
                {
                    "check": c.check,
                    "figure": c.figure,
                    "expected": c.expected,
                    "actual": c.actual,
                    "ok": c.ok,
                }
                for c in self.comparisons
            ],
        }


def _cell(table: dict[str, Any], row: str, column: str) -> dict[str, Any]:
    cell: dict[str, Any] = table["cells"][table["rows"].index(row)][table["columns"].index(column)]
    return cell


def _label(check: dict[str, Any]) -> str:
    period = f"{check['year']}" + (f"-Q{check['quarter']}" if check.get("quarter") else "")
    whose = check.get("provider") or check.get("county") or "county"
    return f"{check['report']} {whose} {period}"


async def fetch(client: httpx.AsyncClient, check: dict[str, Any]) -> dict[str, Any]:
    """The report a check compares with."""
    params: dict[str, Any] = {"year": check["year"]}
    if check.get("quarter"):
        params["quarter"] = check["quarter"]
    if check.get("provider"):
        params["provider"] = check["provider"]
    if check.get("county"):
        params["county"] = check["county"]
    path = {
        "outcomes": "/v1/reports/outcomes",
        "quarterly": "/v1/reports/quarterly-monitoring",
        "courses": "/v1/reports/courses",
        "state": "/v1/reports/state-monitoring",
    }[check["report"]]
    response = await client.get(path, params=params)
    response.raise_for_status()
    report: dict[str, Any] = response.json()
    return report


def compare(check: dict[str, Any], report: dict[str, Any]) -> list[Comparison]:
    """The oracle's figures of one check against one report."""
    expected = check["figures"]
    minimum = int(report.get("min_cell_count", 3))
    label = _label(check)
    if check["report"] == "quarterly":
        return _compare_table(
            label, report["by_municipality"], expected["by_municipality"], minimum
        )
    if check["report"] == "state":
        # Each county's totals, and the state's own (a mover once).
        return _compare_table(label, report["by_county"], expected["by_county"], minimum) + (
            _compare_table(label, report["state"], {"state": expected["state"]}, minimum)
        )
    names: tuple[str, ...]
    rates: tuple[str, ...]
    if check["report"] == "outcomes":
        table, column, names, rates = report["participants"], "participants", COUNTS, RATES
        wanted = {name: expected[name] for name in names}
    else:
        table, column, names, rates = report["exam_results"], "results", EXAM_LEVELS, ("pass_rate",)
        wanted = dict(expected["exam_results"])
    result = []
    for name in names:
        cell = _cell(table, name, column)
        result.append(
            Comparison(
                label, name, wanted[name], cell.get("value"), _agrees(cell, wanted[name], minimum)
            )
        )
    # A rate is withheld when a count of its table is.
    hidden = any(_cell(table, name, column).get("suppressed") for name in names)
    for rate in rates:
        actual = report.get(rate)
        ok = actual == expected[rate] or (actual is None and hidden)
        result.append(Comparison(label, rate, expected[rate], actual, ok))
    return result


def _agrees(cell: dict[str, Any], value: int, minimum: int) -> bool:
    """A published cell shows the true value; a withheld one hides a count that is not 0.

    Small counts (1 to minimum - 1) are always withheld; others may be withheld to protect
    them, in this or a linked table; zeros never are.
    """
    if cell.get("suppressed"):
        return value > 0
    return cell["value"] == value and not 0 < value < minimum


def _compare_table(
    label: str, table: dict[str, Any], wanted: dict[str, dict[str, int]], minimum: int
) -> list[Comparison]:
    """Every cell of a published table against the oracle's rows and columns."""
    result = []
    for row, columns in wanted.items():
        for column, value in columns.items():
            cell = _cell(table, row, column)
            ok = _agrees(cell, value, minimum)
            result.append(Comparison(label, f"{row} {column}", value, cell.get("value"), ok))
    return result


async def check(
    reporting_url: str, token: str, oracle: dict[str, Any], *, timeout_s: float = 60.0
) -> CheckResult:
    """Compare every check of the oracle with the reporting API, until equal or timed out."""
    deadline = time.monotonic() + timeout_s
    # The figures as they stand now, not a report computed a moment ago by the cache.
    headers = {"Authorization": f"Bearer {token}", "Cache-Control": "no-cache"}
    # A release of a whole history is computed in seconds, more on a loaded machine.
    async with httpx.AsyncClient(base_url=reporting_url, headers=headers, timeout=300) as client:
        while True:
            result = CheckResult()
            # All at once: the requests share one release of the data as it stands (one
            # after another, each would wait for a release of its own while the data
            # still changes, a whole history's protection each).
            items = oracle["checks"]
            reports = await asyncio.gather(*(fetch(client, item) for item in items))
            for item, report in zip(items, reports, strict=True):
                result.reports.append(report)
                result.comparisons += compare(item, report)
            if result.ok or time.monotonic() > deadline:
                return result
            await asyncio.sleep(0.5)
