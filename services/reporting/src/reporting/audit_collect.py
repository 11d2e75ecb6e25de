"""What each role can fetch from reporting, gathered for the disclosure audit, and its verdict.

The collector calls the report functions the API serves, for every period of the family
(every quarter of the years from the API's first to `last_year`, every year) and every
scope the role may ask for (`reporting.report_routes.scope_of` decides, as for a request),
plus the dashboard, the participant count and the frozen snapshots where the role may
read them. Each report is computed twice in the same read snapshot: as published, and
with threshold 1 (nothing suppressed), which is the truth the auditor compares against.
CSV and XLSX are checked to carry the same numbers as the JSON (so they need no audit of
their own), and rates to be withheld whenever a count behind them is hidden.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
from fastapi import HTTPException
from openpyxl import load_workbook  # type: ignore[import-untyped]  # ships no type information

from durchstarten.auth import Principal, Role
from durchstarten.db.sqlfiles import SqlFiles
from reporting.audit import (
    AuditReport,
    CellKey,
    InconsistentModel,
    LinearModel,
    ProtectionRule,
    audit,
)
from reporting.audit_model import FIRST_YEAR, Publication, TimeAxis, build_model
from reporting.disclosure import SUPPRESSED_MARKER, protect_count, tables_of
from reporting.exports import to_csv, to_xlsx
from reporting.facts import QUARTER_FACTS, YEAR_FACTS, preload
from reporting.projections import participant_count
from reporting.protection import Protection, protect, withheld
from reporting.report_routes import REPORTS, Period, calendar_quarter, scope_of
from reporting.reports import (
    dashboard_data,
    quarter_bounds,
    quarterly_monitoring,
    year_bounds,
)

SQL = SqlFiles(Path(__file__).parent / "db")

SNAPSHOTS = "SELECT year, quarter, stichtag, body FROM snapshots ORDER BY frozen_at"
"""Every frozen report (the audit's own query; `reporting.snapshots` reads them one by one)."""

COUNTY_PAGES = (Role.COORDINATOR, Role.MINISTRY, Role.ADMIN)
"""Who may read the dashboard, the participant count and snapshots (as `reporting.app`)."""


@dataclass(frozen=True)
class Audience:
    """A role as the attacker: what it may fetch is what it knows."""

    name: str
    principal: Principal


def audiences(providers: Sequence[str]) -> list[Audience]:
    """The ministry, the county coordinator and each provider."""
    found = [
        Audience("ministry", Principal("audit-ministry", frozenset({Role.MINISTRY}), None)),
        Audience(
            "coordinator", Principal("audit-coordinator", frozenset({Role.COORDINATOR}), None)
        ),
    ]
    found.extend(
        Audience(f"provider {p}", Principal(f"audit-{p}", frozenset({Role.PROVIDER}), p))
        for p in providers
    )
    return found


def allowed_scopes(principal: Principal, providers: Sequence[str]) -> list[str | None]:
    """Every scope `principal` gets a report for, asking for the county and each provider."""
    scopes: list[str | None] = []
    for asked in [None, *providers]:
        try:
            scope = scope_of(principal, asked)
        except HTTPException:
            continue
        if scope not in scopes:
            scopes.append(scope)
    return scopes


def reads_county_pages(principal: Principal) -> bool:
    """Whether the role may read the dashboard, the participant count and snapshots."""
    try:
        principal.require(*COUNTY_PAGES)
    except HTTPException:
        return False
    return True


@dataclass(frozen=True)
class Collection:
    """Everything reporting publishes for the widest reader, to be cut down per audience."""

    reports: tuple[Publication, ...]
    county_pages: tuple[Publication, ...]
    problems: tuple[str, ...]
    provider_sets: tuple[frozenset[str], ...] | None = None
    """The sets of providers people have (`ReportingModel`); None: every subset."""
    first_year: int = FIRST_YEAR
    """The family's first year: the periods collected start with it."""
    empty_before: bool = False
    """Nothing is dated before `first_year` and its earlier years are served as zeros."""

    def axis(self, last_year: int) -> TimeAxis:
        """The quarters of the family, up to `last_year`, as the model counts them."""
        return TimeAxis(self.first_year, last_year, empty_before=self.empty_before)

    def seen_by(self, principal: Principal, providers: Sequence[str]) -> list[Publication]:
        """The publications `principal` can fetch."""
        scopes = allowed_scopes(principal, providers)
        chosen = [p for p in self.reports if p.scope in scopes]
        if reads_county_pages(principal):
            chosen.extend(self.county_pages)
        return chosen


async def collect(
    connection: asyncpg.Connection,
    *,
    providers: Sequence[str],
    last_year: int,
    min_cell_count: int,
    check_files: bool = True,
    first_year: int = FIRST_YEAR,
) -> Collection:
    """Every report for every period and scope, the county pages and every snapshot.

    `connection` reads the live projection in one snapshot (`reporting.versions.reading`).
    The periods are those of the years `first_year` to `last_year`; a later `first_year`
    than the API's first is for data with nothing dated before it (`first_data_year`):
    the years before are then known to be empty (`TimeAxis`).
    """
    reports: list[Publication] = []
    years = range(first_year, last_year + 1)
    scopes = [None, *providers]
    # Every count of every report, read set-based: one statement per measure, not per report.
    quarters = [quarter_bounds(y, q) for y in years for q in (1, 2, 3, 4)]
    facts = await preload(
        connection,
        [
            *((measure, quarters) for measure in QUARTER_FACTS),
            *((measure, [year_bounds(y) for y in years]) for measure in YEAR_FACTS),
        ],
        scopes,
    )
    for route in REPORTS:
        quarterly = route.period is calendar_quarter
        periods = (
            [Period(y, q) for y in years for q in (1, 2, 3, 4)]
            if quarterly
            else [Period(y) for y in years]
        )
        for period in periods:
            for scope in scopes:
                published = await route.compute(
                    facts, **period.arguments(), min_cell_count=min_cell_count, provider=scope
                )
                truth = (
                    published
                    if min_cell_count == 1
                    else await route.compute(
                        facts, **period.arguments(), min_cell_count=1, provider=scope
                    )
                )
                publication = Publication(
                    route.name,
                    published,
                    truth,
                    year=period.year,
                    quarter=period.quarter,
                    scope=scope,
                )
                reports.append(publication)
                # Building a report from preloaded facts never waits, so it never lets the
                # event loop run: yield once per report, or an API instance building its
                # release answers nothing for seconds.
                await asyncio.sleep(0)
    problems = problems_of(reports, check_files=check_files)
    county = await _county_pages(connection, min_cell_count=min_cell_count)
    sets = tuple(
        frozenset(row["providers"]) for row in await connection.fetch(SQL["release_provider_sets"])
    )
    return Collection(
        tuple(reports),
        tuple(county),
        tuple(problems),
        sets,
        first_year=first_year,
        empty_before=first_year > FIRST_YEAR,
    )


async def first_data_year(connection: asyncpg.Connection, *, this_year: int) -> int:
    """The first year anything is dated in (facts and frozen snapshots), from FIRST_YEAR on.

    With no data at all, `this_year`. Data dated before FIRST_YEAR (which no period the
    API serves shows) gives FIRST_YEAR: the family then starts there, not known empty.
    """
    found = await connection.fetchval(SQL["release_first_year"])
    return max(FIRST_YEAR, min(this_year, this_year if found is None else int(found)))


async def _county_pages(
    connection: asyncpg.Connection, *, min_cell_count: int
) -> list[Publication]:
    dashboard = await dashboard_data(connection, min_cell_count=1)
    pages = [
        Publication(
            "dashboard",
            dashboard
            if min_cell_count == 1
            else await dashboard_data(connection, min_cell_count=min_cell_count),
            dashboard,
        )
    ]
    count = await participant_count(connection)
    pages.append(
        Publication(
            "participants",
            {"participants": protect_count(count, min_cell_count=min_cell_count).model_dump()},
            {"participants": protect_count(count, min_cell_count=1).model_dump()},
        )
    )
    for row in await connection.fetch(SNAPSHOTS):
        body = json.loads(bytes(row["body"]))
        live = await quarterly_monitoring(
            connection, year=row["year"], quarter=row["quarter"], min_cell_count=1
        )
        linked = _agrees(body, live)
        pages.append(
            Publication(
                "snapshot",
                body,
                live if linked else None,
                year=row["year"],
                quarter=row["quarter"],
                stichtag=str(row["stichtag"]),
                linked=linked,
            )
        )
    return pages


def _agrees(snapshot: dict[str, Any], live_truth: dict[str, Any]) -> bool:
    """Whether every value a snapshot publishes is today's true value (same people)."""
    for name in ("by_municipality", "by_module"):
        frozen, live = snapshot[name], live_truth[name]
        if frozen["rows"] != live["rows"] or frozen["columns"] != live["columns"]:
            return False
        pairs = [
            *zip(
                [c for line in frozen["cells"] for c in line],
                [c for line in live["cells"] for c in line],
                strict=True,
            ),
            *zip(frozen["column_totals"], live["column_totals"], strict=True),
        ]
        if any(not f["suppressed"] and f["value"] != t["value"] for f, t in pairs):
            return False
    return True


def derived_problems(publication: Publication) -> list[str]:
    """Rates published although a count behind them is hidden."""
    report = publication.published
    problems: list[str] = []
    if publication.report == "outcomes":
        cells = report["participants"]
        hidden = {
            step
            for step, line in zip(cells["rows"], cells["cells"], strict=True)
            if line[0]["suppressed"]
        }
        for rate, counts in (
            ("placement_rate_reached", {"placed", "reached"}),
            ("placement_rate_exited", {"placed_exited", "exited"}),
        ):
            if report[rate] is not None and hidden & counts:
                problems.append(f"{publication.source}: {rate} published over a hidden count")
    if publication.report == "courses":
        exams = report["exam_results"]
        hidden = {
            level
            for level, line in zip(exams["rows"], exams["cells"], strict=True)
            if line[0]["suppressed"]
        }
        if report["pass_rate"] is not None and hidden - {"did-not-sit"}:
            problems.append(f"{publication.source}: pass_rate published over a hidden count")
        fees = [a.get("exam_fees_eur") for a in report["funds_by_module"].values()]
        if hidden and any(fee is not None for fee in fees):
            # Paid per exam: the fees count the exams.
            problems.append(f"{publication.source}: exam fees published over a hidden count")
    return problems


def problems_of(publications: Sequence[Publication], *, check_files: bool = True) -> list[str]:
    """Rates over hidden counts, and files that differ from the JSON, in `publications`."""
    problems: list[str] = []
    for publication in publications:
        if publication.report in ("dashboard", "participants", "snapshot"):
            continue
        problems.extend(derived_problems(publication))
        if check_files:
            found = file_problems(publication.published)
            problems.extend(f"{publication.source}: {p}" for p in found)
    return problems


def _text(cell: dict[str, Any]) -> str:
    return SUPPRESSED_MARKER if cell["suppressed"] else str(cell["value"])


def _expected_grids(report: dict[str, Any]) -> dict[str, list[list[str]]]:
    """Every protected table of a report as rows of texts (label first), totals last."""
    tables = dict(tables_of(report))
    grids: dict[str, list[list[str]]] = {}
    for name, table in tables.items():
        rows = [
            [label, *(_text(c) for c in line)]
            for label, line in zip(table["rows"], table["cells"], strict=True)
        ]
        if "column_totals" in table:
            rows.append(["total", *(_text(c) for c in table["column_totals"])])
        grids[name] = rows
    figures = [
        [name, SUPPRESSED_MARKER if value is None else str(value)]
        for name, value in report.items()
        if name != "min_cell_count" and (value is None or isinstance(value, int | float))
    ]
    if figures:
        grids["figures"] = figures
    return grids


def _canonical(grid: list[list[str]]) -> list[list[str | float]]:
    """Texts as numbers where they are numbers: XLSX keeps 0.0 as 0, CSV writes "0.0"."""

    def value(text: str) -> str | float:
        try:
            return float(text)
        except ValueError:
            return text

    return [[value(text) for text in row] for row in grid]


def _csv_sections(text: str) -> dict[str, list[list[str]]]:
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    sections: dict[str, list[list[str]]] = {}
    position = 0
    while position < len(lines):
        if lines[position] == [] and position + 2 < len(lines) and len(lines[position + 1]) == 1:
            name = lines[position + 1][0]
            end = position + 3  # blank, title, header
            while end < len(lines) and lines[end] != []:
                end += 1
            sections[name] = lines[position + 3 : end]
            position = end
        else:
            position += 1
    return sections


def file_problems(report: dict[str, Any]) -> list[str]:
    """Where the CSV or XLSX of a report shows a number its JSON does not."""
    expected = _expected_grids(report)
    problems: list[str] = []
    for name, rows in _csv_sections(to_csv(report)).items():
        if name in expected and _canonical(rows) != _canonical(expected[name]):
            problems.append(f"CSV section {name} differs from the JSON")
    workbook = load_workbook(io.BytesIO(to_xlsx(report)), read_only=True)
    titles = {name[:31]: name for name in expected}
    for sheet in workbook.worksheets:
        section = titles.get(sheet.title)
        if section is None:
            continue
        rows = [
            ["" if v is None else str(v) for v in row]
            for row in sheet.iter_rows(min_row=2, values_only=True)
        ]
        if _canonical(rows) != _canonical(expected[section]):
            problems.append(f"XLSX sheet {sheet.title} differs from the JSON")
    return problems


@dataclass(frozen=True)
class RoleAudit:
    """The audit of one audience: the LP verdict and the other problems found."""

    audience: str
    report: AuditReport
    problems: tuple[str, ...]
    publications: int
    unlinked_snapshots: bool = False

    @property
    def ok(self) -> bool:
        """No unsafe cell and no other problem."""
        return not self.report.unsafe and not self.problems

    def summary(self) -> str:
        """The audience, its counts and every unsafe cell and problem."""
        lines = [f"{self.audience}: {self.publications} publications; {self.report.summary()}"]
        lines.extend(f"  problem: {p}" for p in self.problems)
        return "\n".join(lines)


def unprotected(
    publications: Sequence[Publication], *, refreeze: bool = False
) -> list[Publication]:
    """The publications with every live report shown as its truth; snapshots as frozen.

    The input of `reporting.protection.protect`: the cells it may withhold carry their
    true values, and a frozen snapshot stays what was published. `refreeze`: a snapshot
    of today's people counts as frozen under the pattern being chosen (as a snapshot
    frozen now would be), so it is shown as its truth too.
    """
    found = []
    for publication in publications:
        keep = publication.report == "snapshot" and not (refreeze and publication.linked)
        if keep or publication.truth is None:
            found.append(publication)
        else:
            found.append(replace(publication, published=publication.truth))
    return found


def union_model(
    collection: Collection,
    *,
    providers: Sequence[str],
    last_year: int,
    refreeze_snapshots: bool = False,
    unlink_snapshots: bool = False,
) -> tuple[LinearModel, Callable[[CellKey], bool]]:
    """The model of the union of everything any role can fetch, and its fixed cells.

    The coordinator fetches every scope, the county pages and the snapshots: its
    publications are the union, so its model (every provider modelled) is the one
    protected. Frozen snapshot cells stay as published (fixed), unless
    `refreeze_snapshots` (see `unprotected`). `unlink_snapshots`: snapshots count as
    people of their own (when today's people contradict them, as `audit_audience`).
    """
    coordinator = Principal("protect-union", frozenset({Role.COORDINATOR}), None)
    publications = unprotected(
        collection.seen_by(coordinator, providers), refreeze=refreeze_snapshots
    )
    if unlink_snapshots:
        publications = [
            replace(p, linked=False, truth=None) if p.report == "snapshot" else p
            for p in publications
        ]
    refrozen = {
        p.source for p in publications if p.report == "snapshot" and refreeze_snapshots and p.linked
    }

    def fixed(key: CellKey) -> bool:
        return key.source.startswith("snapshot ") and key.source not in refrozen

    model = build_model(
        publications,
        collection.axis(last_year),
        sorted(providers),
        providers_complete=True,
        provider_sets=collection.provider_sets,
    )
    return model, fixed


def protect_collection(
    collection: Collection,
    *,
    providers: Sequence[str],
    last_year: int,
    rule: ProtectionRule,
    refreeze_snapshots: bool = False,
    verify: bool = True,
) -> Protection:
    """One pattern of withheld cells for the union of everything any role can fetch."""

    def protected(unlink: bool) -> Protection:
        model, fixed = union_model(
            collection,
            providers=providers,
            last_year=last_year,
            refreeze_snapshots=refreeze_snapshots,
            unlink_snapshots=unlink,
        )
        return protect(model, rule, fixed=fixed, verify=verify)

    try:
        return protected(False)
    except InconsistentModel:
        # A snapshot of other people than today's: its own people (as `audit_audience`).
        if not any(p.report == "snapshot" and p.linked for p in collection.county_pages):
            raise
        return protected(True)


def audit_audience(
    collection: Collection,
    audience: Audience,
    *,
    providers: Sequence[str],
    last_year: int,
    rule: ProtectionRule,
    protection: Protection | None = None,
    refreeze_snapshots: bool = False,
) -> RoleAudit:
    """The audit of what one audience can fetch: every sensitive cell's interval.

    With `protection`, the audience's reports are audited as that pattern publishes them
    (their truth with the pattern's cells withheld) instead of as they were collected.
    """
    publications = collection.seen_by(audience.principal, providers)
    scope_providers = sorted({p.scope for p in publications if p.scope is not None})
    axis = collection.axis(last_year)
    complete = set(scope_providers) == set(providers)
    unlinked = False

    def audited(chosen: Sequence[Publication]) -> AuditReport:
        if protection is None:
            model = build_model(
                chosen,
                axis,
                scope_providers,
                providers_complete=complete,
                provider_sets=collection.provider_sets,
            )
        else:
            model = withheld(
                build_model(
                    unprotected(chosen, refreeze=refreeze_snapshots),
                    axis,
                    scope_providers,
                    providers_complete=complete,
                    provider_sets=collection.provider_sets,
                ),
                protection.hidden,
            )
        return audit(model, rule)

    try:
        report = audited(publications)
    except InconsistentModel:
        # A snapshot taken for today's people when it is not: count it as people of its own.
        if not any(p.report == "snapshot" and p.linked for p in publications):
            raise
        publications = [
            replace(p, linked=False, truth=None) if p.report == "snapshot" else p
            for p in publications
        ]
        report = audited(publications)
        unlinked = True
    # Every problem is written "<source>: <what>"; an audience sees its own sources' only.
    sources = {p.source for p in publications}
    problems = tuple(p for p in collection.problems if p.split(": ", 1)[0] in sources)
    return RoleAudit(audience.name, report, problems, len(publications), unlinked)
