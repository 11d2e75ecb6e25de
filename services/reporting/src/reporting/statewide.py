"""Statewide: every county's reports and the ministry's state table, under one pattern.

Each county's reports are those of a county release (`reporting.release`), read through
the county's lens (`reporting.counties`). The state table (`state-monitoring`, per quarter)
puts every county's entries, exits and caseload side by side, per county and module, and
adds the state's own totals, in which a person who moved between counties is one person
(neither an entry nor an exit of the state).

An attacker holds every table at once, so the withheld cells are chosen over one model of
all of them (`joint_model`): the counties' models side by side (their cells keyed
`<county>|<source>`), and the state table's cells as sums over them. A county row of the
state table is the county's own total, the same sum of the same atoms, so it is withheld
exactly when the county's total is. The state's totals differ from the sum of the counties
by the moves of the quarter (`M`: each move is an exit there and an entry here), which the
model keeps as a count of its own that must not be pinned down when small: a state total
minus the other counties reveals neither a county's hidden cell nor how few moved.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

import asyncpg

from durchstarten.counties import Counties
from durchstarten.events.values import ModuleCode
from reporting.audit import (
    CellKey,
    Expression,
    InconsistentModel,
    LinearModel,
    ProtectionRule,
    audit,
    combine,
)
from reporting.audit_collect import RoleAudit, union_model
from reporting.audit_model import LINKED_PROTECTION, Publication, source_of
from reporting.disclosure import tables_of
from reporting.facts import BY_MODULE, BY_MUNICIPALITY, preload
from reporting.patterns import Chosen, PatternStore, model_digest
from reporting.protection import Protection, protect, withheld
from reporting.release import (
    DataState,
    Release,
    ReleaseInput,
    data_state,
    read_release_input,
    release_of,
    withhold,
)
from reporting.reports import (
    MODULE_MEASURES,
    QUARTER_MEASURES,
    quarter_bounds,
    quarterly_monitoring,
)
from reporting.versions import live_schema, reading, through_lens

STATE_REPORT = "state-monitoring"
STATE = "state"
"""The row of the state's own totals."""
MOVES = "moves"
MODULES = [m.value for m in ModuleCode]


def county_source(county: str, source: str) -> str:
    """How the joint model names a county's report: `05758|quarterly-monitoring 2022-Q1 county`."""
    return f"{county}|{source}"


def state_source(year: int, quarter: int) -> str:
    """The source of the state table of a quarter."""
    return source_of(STATE_REPORT, year, quarter, None).replace(" county", " state")


@dataclass(frozen=True)
class StateTruth:
    """The state's own totals of one quarter, counted statewide (a person once)."""

    year: int
    quarter: int
    totals: Mapping[str, int]
    """entries, exits, caseload of the state."""
    modules: Mapping[str, Mapping[str, int]]
    """module -> entries, caseload of the state."""


@dataclass(frozen=True)
class StateRelease:
    """Every county's release and the state tables of one data state, under one pattern."""

    state: DataState
    """What it was computed from (every county's releases share it)."""
    counties: Mapping[str, Release]
    state_reports: Mapping[str, dict[str, Any]]
    """The protected state table of every quarter of the family, by source."""
    protection: Protection
    """The pattern over the joint model (keys of county cells `<county>|<source>`)."""
    model: LinearModel
    """The joint model, every cell with its truth: what the pattern was chosen over."""
    names: Mapping[str, str]
    """County key -> name."""
    seconds: float
    first_year: int
    shared: bool = False
    """Its pattern was read from the store (`reporting.patterns`), not chosen here."""

    def county(self, key: str) -> Release:
        """One county's release (KeyError for a county the deployment does not have)."""
        return self.counties[key]

    def summary(self) -> dict[str, Any]:
        """What an admin sees: the data state, each county's summary and the joint pattern."""
        return {
            "generated_at": next(iter(self.counties.values())).generated_at,
            "seconds": round(self.seconds, 3),
            "projection": self.state.schema,
            "applied_offsets": self.state.applied,
            "first_year": self.first_year,
            "counties": {key: release.summary() for key, release in self.counties.items()},
            "reports": sum(len(r.reports) for r in self.counties.values())
            + len(self.state_reports),
            "state_reports": len(self.state_reports),
            "disclosure_control": LINKED_PROTECTION,
            "withheld": len(self.protection.hidden),
            "primary": len(self.protection.primary),
            "secondary": len(self.protection.secondary),
            "pattern_shared": self.shared,
        }


def _quarter_publication(release_input: ReleaseInput, year: int, quarter: int) -> Publication:
    source = source_of("quarterly-monitoring", year, quarter, None)
    for publication in release_input.truths.reports:
        if publication.source == source:
            return publication
    msg = f"no county table for {source}"
    raise KeyError(msg)


def _value(table: dict[str, Any], row: str, column: str) -> int:
    if row == "total":
        cell = table["column_totals"][table["columns"].index(column)]
    else:
        cell = table["cells"][table["rows"].index(row)][table["columns"].index(column)]
    return int(cell["value"])


def _cells(rows: list[str], columns: list[str], values: list[list[int]]) -> dict[str, Any]:
    return {
        "rows": rows,
        "columns": columns,
        "cells": [[{"value": v, "suppressed": False} for v in line] for line in values],
    }


def state_table(
    inputs: Mapping[str, ReleaseInput | None],
    truth: StateTruth,
    *,
    first_years: Mapping[str, int],
    names: Mapping[str, str],
) -> dict[str, Any]:
    """The state table of one quarter, unsuppressed: county rows from the counties' truths."""
    counties = sorted(inputs)
    by_county, by_module = [], []
    for county in counties:
        if truth.year < first_years[county]:
            by_county.append([0] * len(QUARTER_MEASURES))
            by_module += [[0] * len(MODULE_MEASURES) for _ in MODULES]
            continue
        given = inputs[county]
        published = (
            None if given is None else _quarter_publication(given, truth.year, truth.quarter).truth
        )
        if published is None:
            msg = f"no true county table of {county} for {truth.year}-Q{truth.quarter}"
            raise KeyError(msg)
        places, modules = published["by_municipality"], published["by_module"]
        by_county.append([_value(places, "total", m) for m in QUARTER_MEASURES])
        by_module += [[_value(modules, k, m) for m in MODULE_MEASURES] for k in MODULES]
    start, end = quarter_bounds(truth.year, truth.quarter)
    return {
        "report": STATE_REPORT,
        "period": {
            "year": truth.year,
            "quarter": truth.quarter,
            "from": start.isoformat(),
            "to": end.isoformat(),
        },
        "scope": {"state": "NRW", "counties": [{"key": k, "name": names[k]} for k in counties]},
        "definitions": {
            "by_county": "each county's entries, exits and caseload, as its own quarterly "
            "table counts them: a move is an exit there and an entry here",
            STATE: "the state's own: a person who moved between counties is one person, a "
            "move neither an entry nor an exit; so the state is not the sum of the counties",
            "by_module": "the state's people per module",
            "by_county_and_module": "each county's module table",
        },
        "by_county": _cells(counties, QUARTER_MEASURES, by_county),
        STATE: _cells([STATE], QUARTER_MEASURES, [[truth.totals[m] for m in QUARTER_MEASURES]]),
        "by_module": _cells(
            MODULES,
            MODULE_MEASURES,
            [[truth.modules.get(k, {}).get(m, 0) for m in MODULE_MEASURES] for k in MODULES],
        ),
        "by_county_and_module": _cells(
            [f"{c} {k}" for c in counties for k in MODULES], MODULE_MEASURES, by_module
        ),
    }


def zero_state_table(
    names: Mapping[str, str], year: int, quarter: int, *, threshold: int
) -> dict[str, Any]:
    """The state table of a quarter before anything is dated: zeros, nothing withheld."""
    zero = StateTruth(
        year,
        quarter,
        dict.fromkeys(QUARTER_MEASURES, 0),
        {k: dict.fromkeys(MODULE_MEASURES, 0) for k in MODULES},
    )
    table = state_table(
        dict.fromkeys(names), zero, first_years=dict.fromkeys(names, year + 1), names=names
    )
    return withhold(table, state_source(year, quarter), frozenset(), threshold=threshold)


class _Joint:
    """The counties' models side by side, with the state tables' cells added."""

    def __init__(self) -> None:
        self.lp = LinearModel()
        self._expressions: dict[CellKey, Expression] = {}

    def add_county(self, county: str, model: LinearModel) -> None:
        offset = len(self.lp.names)
        lp = self.lp
        lp.names += [f"{county}|{name}" for name in model.names]
        lp.lower += model.lower
        lp.upper += model.upper

        def shifted(expression: Expression) -> dict[int, float]:
            return {index + offset: c for index, c in expression.items()}

        for cell in model.cells:
            key = replace(cell.key, source=county_source(county, cell.key.source))
            moved = replace(cell, key=key, expression=shifted(cell.expression))
            lp.cells.append(moved)
            self._expressions[key] = moved.expression
        lp.constraints += [replace(c, expression=shifted(c.expression)) for c in model.constraints]
        lp.definitions.update(
            {index + offset: shifted(expr) for index, expr in model.definitions.items()}
        )

    def county_cell(
        self, county: str, source: str, table: str, row: str, column: str
    ) -> Expression:
        return self._expressions[CellKey(county_source(county, source), table, row, column)]

    def add_state(
        self,
        table: dict[str, Any],
        truth_moves: int,
        *,
        counties: Sequence[str],
        first_years: Mapping[str, int],
        cumulative_moves: Expression,
    ) -> Expression:
        """The cells of one quarter's state table; returns the quarter's moves variable."""
        year, quarter = table["period"]["year"], table["period"]["quarter"]
        source = state_source(year, quarter)
        county_source_q = source_of("quarterly-monitoring", year, quarter, None)
        lp = self.lp
        moves = lp.variable(f"moves {year}-Q{quarter}")
        # Never published, so no marker says it is at least 1: a quarter may have no moves.
        lp.publish(
            CellKey(source, MOVES, MOVES, "people"), {moves: 1.0}, None, truth_moves, floor=0
        )

        def county(c: str, name: str, row: str, column: str) -> Expression:
            if year < first_years[c]:
                return {}  # the county's empty years: zeros it publishes as such
            return self.county_cell(c, county_source_q, name, row, column)

        def publish(name: str, row: str, column: str, expression: Expression, value: int) -> None:
            lp.publish(CellKey(source, name, row, column), expression, value, value)

        def value(name: str, row: str, column: str) -> int:
            return _value(table[name], row, column)

        sums: dict[str, dict[int, float]] = {}
        for measure in QUARTER_MEASURES:
            parts = [county(c, "by_municipality", "total", measure) for c in counties]
            for c, part in zip(counties, parts, strict=True):
                publish("by_county", c, measure, part, value("by_county", c, measure))
            sums[measure] = combine(*parts)
        for measure in ("entries", "exits"):
            # Each move of the quarter is an entry of one county and an exit of another,
            # neither of the state.
            total = combine(sums[measure], {moves: -1.0})
            lp.constrain(total, 0.0, float("inf"), "a state count is a count")
            publish(STATE, STATE, measure, total, value(STATE, STATE, measure))
        publish(STATE, STATE, "caseload", sums["caseload"], value(STATE, STATE, "caseload"))
        for module in MODULES:
            for measure in MODULE_MEASURES:
                parts = [county(c, "by_module", module, measure) for c in counties]
                for c, part in zip(counties, parts, strict=True):
                    publish(
                        "by_county_and_module",
                        f"{c} {module}",
                        measure,
                        part,
                        value("by_county_and_module", f"{c} {module}", measure),
                    )
                # A person counted by two counties (a start in each, the move between) or by
                # none (started before moving, not again after): at most the moves.
                gap = lp.variable(f"moves' module gap {year}-Q{quarter} {module} {measure}")
                reach = {moves: 1.0} if measure == "entries" else dict(cumulative_moves)
                reach = combine(reach, {moves: 1.0}) if measure == "caseload" else reach
                lp.at_most({gap: 1.0}, reach, "a module gap is at most the moves")
                sign = -1.0 if measure == "entries" else 1.0
                expression = combine(combine(*parts), {gap: sign})
                publish(
                    "by_module", module, measure, expression, value("by_module", module, measure)
                )
        return {moves: 1.0}


def joint_model(
    inputs: Mapping[str, ReleaseInput],
    state_truths: Sequence[StateTruth],
    *,
    last_year: int,
    names: Mapping[str, str],
    unlink_snapshots: bool = False,
) -> tuple[LinearModel, Callable[[CellKey], bool], dict[str, dict[str, Any]]]:
    """The attacker's model of everything published statewide.

    Also the fixed cells and the state tables unsuppressed (by source).
    """
    joint = _Joint()
    fixed_by_county: dict[str, Callable[[CellKey], bool]] = {}
    for county in sorted(inputs):
        given = inputs[county]
        model, own_fixed = union_model(
            given.truths,
            providers=given.providers,
            last_year=last_year,
            unlink_snapshots=unlink_snapshots,
        )
        joint.add_county(county, model)
        fixed_by_county[county] = own_fixed
    first_years = {c: inputs[c].truths.first_year for c in inputs}
    counties = sorted(inputs)
    tables: dict[str, dict[str, Any]] = {}
    cumulative: dict[int, float] = {}
    for truth in sorted(state_truths, key=lambda t: (t.year, t.quarter)):
        table = state_table(inputs, truth, first_years=first_years, names=names)
        by_county = table["by_county"]
        summed = {m: sum(_value(by_county, c, m) for c in counties) for m in ("entries", "exits")}
        moves = summed["entries"] - truth.totals["entries"]
        if summed["exits"] - truth.totals["exits"] != moves:
            msg = f"moves of {truth.year}-Q{truth.quarter} differ between entries and exits"
            raise InconsistentModel(msg)
        variable = joint.add_state(
            table, moves, counties=counties, first_years=first_years, cumulative_moves=cumulative
        )
        cumulative = combine(cumulative, variable)
        tables[state_source(truth.year, truth.quarter)] = table

    def fixed(key: CellKey) -> bool:
        if key.table == MOVES:
            return True  # never published: a count the pattern must keep wide
        county, _, source = key.source.partition("|")
        check = fixed_by_county.get(county)
        return check is not None and check(replace(key, source=source))

    return joint.lp, fixed, tables


def protect_statewide(
    inputs: Mapping[str, ReleaseInput],
    state_truths: Sequence[StateTruth],
    *,
    last_year: int,
    rule: ProtectionRule,
    names: Mapping[str, str],
    build: Callable[[ReleaseInput, frozenset[CellKey]], Release],
    verify: bool = False,
) -> StateRelease:
    """One pattern over every county's reports and the state tables (CPU only)."""
    started = time.monotonic()
    joint = joint_model(inputs, state_truths, last_year=last_year, names=names)
    chosen = choose_statewide(
        joint, inputs, state_truths, last_year=last_year, rule=rule, names=names, verify=verify
    )
    return apply_statewide(
        joint,
        chosen,
        inputs,
        state_truths,
        last_year=last_year,
        rule=rule,
        names=names,
        build=build,
        started=started,
    )


Joint = tuple[LinearModel, Callable[[CellKey], bool], dict[str, dict[str, Any]]]
"""What `joint_model` gives: the model, its fixed cells and the state tables unsuppressed."""


def choose_statewide(
    joint: Joint,
    inputs: Mapping[str, ReleaseInput],
    state_truths: Sequence[StateTruth],
    *,
    last_year: int,
    rule: ProtectionRule,
    names: Mapping[str, str],
    verify: bool = False,
) -> Chosen:
    """The pattern over `joint` (the model `joint_model` made of `inputs`; CPU only)."""
    model, fixed, _ = joint
    try:
        return Chosen(protect(model, rule, fixed=fixed, verify=verify), unlinked=False)
    except InconsistentModel:
        # A snapshot of other people than today's: its own people (as `audit_audience`).
        model, fixed, _ = joint_model(
            inputs, state_truths, last_year=last_year, names=names, unlink_snapshots=True
        )
        return Chosen(protect(model, rule, fixed=fixed, verify=verify), unlinked=True)


def apply_statewide(
    joint: Joint,
    chosen: Chosen,
    inputs: Mapping[str, ReleaseInput],
    state_truths: Sequence[StateTruth],
    *,
    last_year: int,
    rule: ProtectionRule,
    names: Mapping[str, str],
    build: Callable[[ReleaseInput, frozenset[CellKey]], Release],
    started: float,
) -> StateRelease:
    """Every county's release and the state tables under `chosen`'s pattern (CPU only)."""
    if chosen.unlinked:
        joint = joint_model(
            inputs, state_truths, last_year=last_year, names=names, unlink_snapshots=True
        )
    model, _, tables = joint
    protection = chosen.protection
    counties = {}
    for county, given in inputs.items():
        prefix = f"{county}|"
        own = frozenset(
            replace(key, source=key.source[len(prefix) :])
            for key in protection.hidden
            if key.source.startswith(prefix)
        )
        counties[county] = build(given, own)
    state_reports = {
        source: withhold(table, source, protection.hidden, threshold=rule.threshold)
        for source, table in tables.items()
    }
    first_year = min((given.truths.first_year for given in inputs.values()), default=last_year)
    return StateRelease(
        next(iter(inputs.values())).state,
        counties,
        state_reports,
        protection,
        model,
        names,
        time.monotonic() - started,
        first_year,
        shared=chosen.shared,
    )


def audit_statewide(release: StateRelease, rule: ProtectionRule) -> RoleAudit:
    """The audit of everything published statewide at once, as the release withholds it.

    Every county's tables (every scope) and the state tables (`python -m reporting audit`).
    """
    report = audit(withheld(release.model, release.protection.hidden), rule)
    publications = sum(len(r.reports) for r in release.counties.values())
    return RoleAudit(
        "state: every county and the state tables",
        report,
        (),
        publications + len(release.state_reports),
    )


def state_tables_of(release: StateRelease) -> list[tuple[str, dict[str, Any]]]:
    """Every table of every state report (the audit's and the exports' walk)."""
    return [
        (f"{source} {name}", table)
        for source, body in release.state_reports.items()
        for name, table in tables_of(body)
    ]


async def read_state_truths(
    connection: asyncpg.Connection, *, first_year: int, last_year: int
) -> list[StateTruth]:
    """The state's own totals of every quarter from `first_year` on, read statewide."""
    truths = []
    years = range(first_year, last_year + 1)
    quarters = [quarter_bounds(year, quarter) for year in years for quarter in (1, 2, 3, 4)]
    facts = await preload(connection, [(BY_MUNICIPALITY, quarters), (BY_MODULE, quarters)], [None])
    for year in years:
        for quarter in (1, 2, 3, 4):
            table = await quarterly_monitoring(facts, year=year, quarter=quarter, min_cell_count=1)
            places, modules = table["by_municipality"], table["by_module"]
            truths.append(
                StateTruth(
                    year,
                    quarter,
                    {m: _value(places, "total", m) for m in QUARTER_MEASURES},
                    {k: {m: _value(modules, k, m) for m in MODULE_MEASURES} for k in MODULES},
                )
            )
    return truths


async def read_statewide(
    pool: asyncpg.Pool, *, counties: Counties, today: date
) -> tuple[dict[str, ReleaseInput], list[StateTruth]]:
    """Every county's release input, each read through its lens, and the state's totals.

    One snapshot: what each API instance reads before it builds its model.
    """
    inputs: dict[str, ReleaseInput] = {}
    async with reading(pool) as connection:
        schema = await live_schema(connection)
        state = await data_state(connection, today=today)
        for county in counties.all():
            await through_lens(connection, schema, county.key)
            inputs[county.key] = await read_release_input(
                connection,
                providers=[p.id for p in county.providers],
                today=today,
                state=state,
            )
        await through_lens(connection, schema, None)
        first_year = min(given.truths.first_year for given in inputs.values())
        truths = await read_state_truths(connection, first_year=first_year, last_year=today.year)
    return inputs, truths


async def compute_statewide(
    pool: asyncpg.Pool,
    *,
    counties: Counties,
    rule: ProtectionRule,
    today: date,
    verify: bool = False,
    patterns: PatternStore | None = None,
    afresh: bool = False,
) -> StateRelease:
    """Read every county and the state in one snapshot, then protect them together.

    `patterns`: share the pattern with the other API instances (`reporting.patterns`):
    the first to need the pattern of this model chooses it, the others apply theirs
    (`afresh`: choose it here whatever is stored, and store it for the others). The
    solver and the building of the release run in worker threads, so the event loop
    stays free.
    """
    started = time.monotonic()
    inputs, truths = await read_statewide(pool, counties=counties, today=today)
    names = {county.key: county.name for county in counties.all()}

    def build(given: ReleaseInput, hidden: frozenset[CellKey]) -> Release:
        return release_of(given, Protection(hidden, frozenset(), 0, None), rule=rule)

    year = today.year
    joint = await asyncio.to_thread(joint_model, inputs, truths, last_year=year, names=names)

    async def choose() -> Chosen:
        return await asyncio.to_thread(
            choose_statewide,
            joint,
            inputs,
            truths,
            last_year=year,
            rule=rule,
            names=names,
            verify=verify,
        )

    if patterns is None or verify:  # an audit checks a pattern chosen for it
        chosen = await choose()
    else:
        model, fixed, _ = joint
        digest = await asyncio.to_thread(model_digest, model, fixed, rule)
        chosen = await patterns.shared(digest, choose, afresh=afresh)
    return await asyncio.to_thread(
        apply_statewide,
        joint,
        chosen,
        inputs,
        truths,
        last_year=year,
        rule=rule,
        names=names,
        build=build,
        started=started,
    )
